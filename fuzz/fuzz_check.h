// FUZZ_CHECK(condition, what): a property every input must keep; a violation prints `what` and
// aborts, which libFuzzer reports as a crash and saves the input.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>

#define FUZZ_CHECK(condition, what)                                                              \
  do {                                                                                           \
    if (!(condition)) {                                                                          \
      std::fprintf(stderr, "property broken: %s (%s)\n", #condition, std::string(what).c_str()); \
      std::abort();                                                                              \
    }                                                                                            \
  } while (false)
