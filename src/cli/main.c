/* main.c - the hudong command line. */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        puts("hudong 0.1.0");
        return 0;
    }
    fputs("usage: hudong COMMAND\n", stderr);
    return 2;
}
