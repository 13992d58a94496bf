// SPDX-License-Identifier: Apache-2.0
/* Reference cost for scripts/bench/webhooks.sh: N one-shot OpenSSL HMAC()
 * calls (SHA-256) over a body of the given size; run under callgrind with two
 * N to get the instructions of one call. */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char** argv) {
    if (argc != 3) return 2;
    const size_t size = (size_t)strtoul(argv[1], NULL, 10);
    const long n = strtol(argv[2], NULL, 10);
    unsigned char* body = malloc(size ? size : 1);
    memset(body, 'x', size);
    static const char key[] = "bench-secret-0123456789abcdef";
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    unsigned long sum = 0;
    for (long i = 0; i < n; ++i) {
        body[0] = (unsigned char)i;
        HMAC(EVP_sha256(), key, (int)strlen(key), body, size, out, &len);
        sum += out[0];
    }
    printf("%lu\n", sum);
    free(body);
    return 0;
}
