/*
 * extract_main_dev.c - development executable for `scribe extract` (the lead
 * wires scribe_extract_cli() into the main `scribe` program).
 */
#include "extract/extract.h"

int main(int argc, char **argv) { return scribe_extract_cli(argc, argv); }
