// accelerate: a native drop-in for Hugging Face Accelerate's command line.
#include "acc/cli/app.hpp"

int main(int argc, char** argv) {
    return acc::cli::run_main(argc, argv);
}
