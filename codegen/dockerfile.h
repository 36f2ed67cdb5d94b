// Dockerfiles for the services of a graph version that are built from source and do not name a
// Dockerfile of their own (build.dockerfile empty): the generated one is written as
// `<context>/Dockerfile.axion-<service>` (services may share a context) and the compose file
// points at it.
//
// The generated file: `ARG BASE_IMAGE` (a build arg of the spec, else debian:bookworm-slim),
// FROM it, WORKDIR (working_dir, else /app), COPY of the context, EXPOSE of the ports, the
// labels, a HEALTHCHECK for exec checks, and ENTRYPOINT / CMD in exec (JSON) form. Strings from
// the graph appear only inside JSON strings (escaped) or as validated paths and numbers, and
// `$` is escaped where Dockerfile would substitute variables: no instruction can be injected.
#pragma once

#include <vector>

#include "axion/v1/project.pb.h"
#include "codegen/artifacts.h"
#include "common/status.h"

namespace axion::codegen {

// The Dockerfile path of `service` that a build uses, relative to its context: the spec's, or
// the generated one's ("Dockerfile.axion-<service>"); empty without a build spec.
std::string dockerfile_path(const axion::v1::Service& service);

// The artifact path of the generated Dockerfile of `service` ("<context>/Dockerfile.axion-
// <service>"); empty if it needs none.
std::string generated_dockerfile_artifact(const axion::v1::Service& service);

// One artifact per service whose build spec leaves the Dockerfile to Axion, in graph order;
// INVALID_ARGUMENT naming the field for a working_dir or base image a Dockerfile cannot carry.
Result<std::vector<Artifact>> generate_dockerfiles(const axion::v1::GraphVersion& graph);

}  // namespace axion::codegen
