# Kafka adapter tests (included from tests/integration/CMakeLists.txt).
#   kafka_fault_test             fault injection on librdkafka's mock cluster, plus abort
#                                visibility on the real broker (KAFKA_BROKERS)
#   kafka_setup_test             bad set-up against the real broker (KAFKA_BROKERS)
#   partitioner_agreement_test   our partitioner vs librdkafka's murmur2_random, real broker
#   kafka_topic_retention_test   keep_forever topics keep every record, real broker
axion_test(kafka_fault_test LABEL integration TIMEOUT 600
           SOURCES kafka_fault_test.cc LIBS axion_infra_kafka PkgConfig::RDKAFKA NO_TSAN)
axion_test(kafka_setup_test LABEL integration
           SOURCES kafka_setup_test.cc LIBS axion_infra_kafka PkgConfig::RDKAFKA NO_TSAN)
axion_test(partitioner_agreement_test LABEL integration
           SOURCES partitioner_agreement_test.cc LIBS axion_infra_kafka PkgConfig::RDKAFKA NO_TSAN)
axion_test(kafka_topic_retention_test LABEL integration
           SOURCES kafka_topic_retention_test.cc
           LIBS axion_infra_kafka PkgConfig::RDKAFKA spdlog::spdlog NO_TSAN)
