// Content hashes of graphs: GraphVersion.content_hash is "SHA-256 (hex) of the deterministic
// serialization of services + edges" (schemas/axion/v1/project.proto), so equal graphs have
// equal hashes whoever publishes them. SHA-256 is implemented here (FIPS 180-4, a page of code)
// because the domain layer links no crypto library; it is a content fingerprint, not a MAC.
#pragma once

#include <google/protobuf/message.h>
#include <google/protobuf/repeated_ptr_field.h>

#include <string>
#include <string_view>

#include "axion/v1/project.pb.h"

namespace axion::commands {

// Lowercase hex SHA-256 of `data` (64 characters).
std::string sha256_hex(std::string_view data);

// The message serialized with deterministic=true (map entries sorted by key), so the same
// content always gives the same bytes within one protobuf version.
std::string deterministic_bytes(const google::protobuf::Message& message);

// GraphVersion.content_hash of these services and edges: SHA-256 of a GraphVersion holding only
// them, serialized deterministically. project_id, version, commit and publisher do not count.
std::string graph_content_hash(
    const google::protobuf::RepeatedPtrField<axion::v1::Service>& services,
    const google::protobuf::RepeatedPtrField<axion::v1::Edge>& edges);

}  // namespace axion::commands
