// The one table from librdkafka error codes to axion::Status (see impl/kafka_errors.h). The
// code says what the caller can do: fix the input (INVALID_ARGUMENT), stop (FAILED_PRECONDITION),
// re-poll and retry (ABORTED), or just retry (UNAVAILABLE / DEADLINE_EXCEEDED).
#include "infra/kafka/impl/kafka_errors.h"

#include <string>

namespace axion::infra::kafka::impl {
namespace {

struct Mapping {
  StatusCode code;
  bool retryable;
};

Mapping map_code(rd_kafka_resp_err_t code) {
  switch (code) {
    case RD_KAFKA_RESP_ERR_NO_ERROR:
      return {StatusCode::kOk, false};

    case RD_KAFKA_RESP_ERR__INVALID_ARG:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    case RD_KAFKA_RESP_ERR_INVALID_PARTITIONS:
    case RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR:
    case RD_KAFKA_RESP_ERR_INVALID_REPLICA_ASSIGNMENT:
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:
    case RD_KAFKA_RESP_ERR_INVALID_MSG:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR_INVALID_CONFIG:
    case RD_KAFKA_RESP_ERR_INVALID_REQUEST:
    case RD_KAFKA_RESP_ERR_POLICY_VIOLATION:
    case RD_KAFKA_RESP_ERR_INVALID_GROUP_ID:
      return {StatusCode::kInvalidArgument, false};

    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND:
      return {StatusCode::kNotFound, false};

    case RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS:
      return {StatusCode::kAlreadyExists, false};

    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED:
      return {StatusCode::kPermissionDenied, false};
    case RD_KAFKA_RESP_ERR__AUTHENTICATION:
    case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
      return {StatusCode::kUnauthenticated, false};

    case RD_KAFKA_RESP_ERR__FENCED:
    case RD_KAFKA_RESP_ERR_PRODUCER_FENCED:
    case RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH:
    case RD_KAFKA_RESP_ERR_TRANSACTION_COORDINATOR_FENCED:
    case RD_KAFKA_RESP_ERR__FATAL:
    case RD_KAFKA_RESP_ERR__NOT_CONFIGURED:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_VERSION:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_FOR_MESSAGE_FORMAT:
    case RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER:
    case RD_KAFKA_RESP_ERR__GAPLESS_GUARANTEE:
    case RD_KAFKA_RESP_ERR__INCONSISTENT:
      return {StatusCode::kFailedPrecondition, false};

    case RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION:
    case RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID:
    case RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS:
    case RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID:
    case RD_KAFKA_RESP_ERR__ASSIGNMENT_LOST:
    case RD_KAFKA_RESP_ERR__MAX_POLL_EXCEEDED:
    case RD_KAFKA_RESP_ERR__PURGE_QUEUE:
    case RD_KAFKA_RESP_ERR__PURGE_INFLIGHT:
    case RD_KAFKA_RESP_ERR_CONCURRENT_TRANSACTIONS:
    case RD_KAFKA_RESP_ERR_INVALID_TXN_STATE:
    case RD_KAFKA_RESP_ERR__PREV_IN_PROGRESS:
      return {StatusCode::kAborted, true};

    case RD_KAFKA_RESP_ERR__STATE:  // an API call in the wrong state: a bug in this adapter
      return {StatusCode::kInternal, false};

    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
      return {StatusCode::kDeadlineExceeded, true};

    case RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE:
    case RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET:
      return {StatusCode::kOutOfRange, false};

    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__RESOLVE:
    case RD_KAFKA_RESP_ERR__DESTROY:
    case RD_KAFKA_RESP_ERR__WAIT_COORD:
    case RD_KAFKA_RESP_ERR__QUEUE_FULL:
    case RD_KAFKA_RESP_ERR__NODE_UPDATE:
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
    case RD_KAFKA_RESP_ERR_BROKER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_REPLICA_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION:
    case RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS:
    case RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_COORDINATOR:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case RD_KAFKA_RESP_ERR_KAFKA_STORAGE_ERROR:
    case RD_KAFKA_RESP_ERR_NOT_CONTROLLER:
    case RD_KAFKA_RESP_ERR_UNKNOWN_LEADER_EPOCH:
    case RD_KAFKA_RESP_ERR_FENCED_LEADER_EPOCH:
    case RD_KAFKA_RESP_ERR_OFFSET_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_UNSTABLE_OFFSET_COMMIT:
    case RD_KAFKA_RESP_ERR_UNKNOWN_PRODUCER_ID:
    case RD_KAFKA_RESP_ERR_THROTTLING_QUOTA_EXCEEDED:
    case RD_KAFKA_RESP_ERR_FETCH_SESSION_ID_NOT_FOUND:
    case RD_KAFKA_RESP_ERR_INVALID_FETCH_SESSION_EPOCH:
      return {StatusCode::kUnavailable, true};

    default:
      // Not in the table: report it as it is, with librdkafka's text and name, and do not
      // pretend a retry will help.
      return {StatusCode::kUnknown, false};
  }
}

}  // namespace

bool is_fencing_error(rd_kafka_resp_err_t code) {
  return code == RD_KAFKA_RESP_ERR__FENCED || code == RD_KAFKA_RESP_ERR_PRODUCER_FENCED ||
         code == RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH ||
         code == RD_KAFKA_RESP_ERR_TRANSACTION_COORDINATOR_FENCED;
}

bool is_stale_generation(rd_kafka_resp_err_t code) {
  return code == RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION ||
         code == RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID ||
         code == RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS ||
         code == RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID;
}

Status status_from_kafka(rd_kafka_resp_err_t code, std::string_view what,
                         std::string_view detail) {
  const Mapping m = map_code(code);
  if (m.code == StatusCode::kOk) return ok_status();
  std::string message(what);
  message += ": ";
  const std::string text = rd_kafka_err2str(code);
  if (!detail.empty() && detail != text) {
    message += detail;
    message += " (" + text + ", " + rd_kafka_err2name(code) + ")";
  } else {
    message += text + " (" + rd_kafka_err2name(code) + ")";
  }
  return Status(m.code, std::move(message), m.retryable);
}

Status status_from_kafka_error(const rd_kafka_error_t* error, std::string_view what) {
  if (error == nullptr) return ok_status();
  const rd_kafka_resp_err_t code = rd_kafka_error_code(error);
  Status s = status_from_kafka(code, what, rd_kafka_error_string(error));
  if (s.ok()) return s;
  if (rd_kafka_error_is_fatal(error)) return Status(s.code(), s.message(), false);
  if (rd_kafka_error_txn_requires_abort(error) && !s.retryable()) {
    // The transaction must be aborted; a fresh one may well succeed.
    return Status(StatusCode::kAborted, s.message(), true);
  }
  return Status(s.code(), s.message(), s.retryable() || rd_kafka_error_is_retriable(error));
}

Status fenced_status(std::string_view transactional_id, rd_kafka_resp_err_t code,
                     std::string_view detail) {
  const std::string id(transactional_id);
  if (is_fencing_error(code)) {
    return failed_precondition("producer '" + id +
                               "' was fenced by a newer instance with the same transactional id (" +
                               std::string(detail) + ")");
  }
  return failed_precondition("producer '" + id + "' failed fatally and can no longer append: " +
                             std::string(detail) + " (" + rd_kafka_err2name(code) +
                             "); open a new producer");
}

}  // namespace axion::infra::kafka::impl
