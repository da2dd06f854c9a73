/*
 * libFuzzer target: the IPFIX decoder. The same harness as fuzz_nf9.c
 * (see there for the input format and the checks), with the version
 * forced to 10.
 */
#define FUZZ_VERSION 10
#include "fuzz_nf9.c"
