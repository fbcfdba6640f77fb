/* replay_main: runs a fuzz target over files without libFuzzer, so that the seed corpora and the
 * inputs that once crashed are regression tests for any C compiler (test/86.fuzz-replay.test.js). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reads a whole file; returns NULL (and says why) when it cannot. */
static uint8_t *_read_file(const char *path, size_t *size)
{
    uint8_t *data = NULL;
    FILE *f = fopen(path, "rb");
    if (f == NULL || fseek(f, 0, SEEK_END) != 0)
        goto fail;
    long n = ftell(f);
    if (n < 0 || fseek(f, 0, SEEK_SET) != 0)
        goto fail;
    data = malloc((size_t)n + 1);
    if (data == NULL || fread(data, 1, (size_t)n, f) != (size_t)n)
        goto fail;
    fclose(f);
    *size = (size_t)n;
    return data;
fail:
    perror(path);
    free(data);
    if (f != NULL)
        fclose(f);
    return NULL;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        size_t size;
        uint8_t *data = _read_file(argv[i], &size);
        if (data == NULL)
            return 2;
        LLVMFuzzerTestOneInput(data, size);
        free(data);
    }
    printf("replayed %d inputs\n", argc - 1);
    return 0;
}
