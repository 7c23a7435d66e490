#include "app/commands.h"

int main(int argc, char** argv) { return vq2d::app::RunCommandLine(argc, argv); }
