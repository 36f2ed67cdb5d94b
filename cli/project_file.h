// axion.yaml: a project as people write it, turned into what ProjectService.PublishGraph takes.
//
//   project: shop
//   services:
//     api:
//       command: [api-server, --listen, "0.0.0.0"]   # argv, never a shell string
//       ports: [{name: http, port: 8080, protocol: http}]
//       env: {LOG_LEVEL: info}
//       health: {http: /healthz, port: http, interval: 2s, timeout: 1s}
//       resources: {cpu: 250m, memory: 128Mi}
//       replicas: 2
//     web:
//       image: ghcr.io/acme/web:1.4.2
//       ports: [{name: http, port: 8080, publish: 80, protocol: http}]
//       calls: [api]                                   # TRAFFIC edge to api's only port
//       depends_on: [db]                               # START_ORDER edge
//
// Every error names the file, line and column and the field path, e.g.
// "axion.yaml:12:9: services.api.ports[0].port: must be 1..65535, got 70000"; unknown keys are
// errors (a typo must not silently drop a setting). What the aggregate validates (DNS-label
// names, cycles, sizes) is left to PublishGraph, whose refusal names the field too.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "axion/v1/project.pb.h"
#include "common/status.h"

namespace axion::cli {

struct ProjectFile {
  std::string project;                       // the project's name
  std::vector<axion::v1::Service> services;  // in file order
  std::vector<axion::v1::Edge> edges;
};

// INVALID_ARGUMENT with "<file>:<line>:<column>: <field>: <what>" on any problem.
Result<ProjectFile> parse_project_file(std::string_view text, const std::string& file_name);

}  // namespace axion::cli
