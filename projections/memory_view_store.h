// The in-memory ViewStore: ordered maps behind a reader-writer mutex. The product folds a log
// prefix into one to answer as-of queries (the views as they were at an offset); tests use it
// as a reference. Nothing is persisted: a new store is empty.
#pragma once

#include <memory>

#include "projections/view_store.h"

namespace axion::projections {

std::unique_ptr<ViewStore> make_memory_view_store();

}  // namespace axion::projections
