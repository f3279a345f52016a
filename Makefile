# Convenience wrapper: `make` builds build/scribe with CMake.
BUILD ?= build
.PHONY: all test clean
all:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j$$(nproc)
test: all
	@ctest --test-dir $(BUILD) --output-on-failure
clean:
	rm -rf $(BUILD)
