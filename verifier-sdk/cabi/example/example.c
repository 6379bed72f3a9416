/* A C app that checks its lease with libnarcidi: example LEASE-FILE-TOKEN
 * JWKS-FILE PRODUCT FINGERPRINT [NOW]. Prints the library's JSON answer and
 * exits 0 when the lease is valid, 1 when it is not. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../narcidi.h"

static char *slurp(const char *path) {
	FILE *f = fopen(path, "rb");
	if (!f) { perror(path); exit(2); }
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	rewind(f);
	char *buf = malloc(n + 1);
	if (fread(buf, 1, n, f) != (size_t)n) { perror(path); exit(2); }
	buf[n] = 0;
	fclose(f);
	while (n > 0 && (buf[n-1] == '\n' || buf[n-1] == '\r')) buf[--n] = 0;
	return buf;
}

int main(int argc, char **argv) {
	if (argc < 5) {
		fprintf(stderr, "usage: %s TOKEN-FILE JWKS-FILE PRODUCT FINGERPRINT [NOW]\n", argv[0]);
		return 2;
	}
	char *token = slurp(argv[1]);
	char *jwks = slurp(argv[2]);
	long long now = argc > 5 ? atoll(argv[5]) : 0;
	char *res = narcidi_verify(token, jwks, 0, argv[3], argv[4], now);
	printf("%s\n", res);
	int ok = strncmp(res, "{\"ok\":true", 10) == 0;
	narcidi_free(res);
	free(token);
	free(jwks);
	return ok ? 0 : 1;
}
