// The compose project the compose tests deploy: `api` and `web` from the local test image
// axion-test/web:1 (scripts/docker-engine: busybox httpd serving $VERSION, with a health check),
// web published on 127.0.0.1:<port> and started once api is healthy.
#pragma once

#include <string>

namespace axion::testing {

inline std::string two_service_compose(int port, const std::string& version) {
  return "version: \"2.4\"\nservices:\n"
         "  api:\n    image: axion-test/web:1\n    environment:\n      VERSION: api-" +
         version +
         "\n  web:\n    image: axion-test/web:1\n    environment:\n      VERSION: " + version +
         "\n    ports:\n      - \"127.0.0.1:" + std::to_string(port) +
         ":8080\"\n    depends_on:\n      api:\n        condition: service_healthy\n";
}

}  // namespace axion::testing
