/* test_address.c - address forms and master lists. */
#include <stdlib.h>
#include <string.h>

#include "net/address.h"
#include "tap.h"

static char err[200];

static void expect(const char *text, int default_port, const char *host, int port)
{
	struct neo_address a;
	int r = neo_address_parse(text, default_port, &a, err, sizeof(err));

	if (!tap_ok(r == 0 && strcmp(a.host, host) == 0 && a.port == port, "'%s' -> %s port %d",
		    text, host, port))
		tap_diag("%d %s", r, err);
}

static void expect_bad(const char *text, int default_port, const char *why)
{
	struct neo_address a;

	tap_ok(neo_address_parse(text, default_port, &a, err, sizeof(err)) == -1 &&
	       strstr(err, why) != NULL, "'%s' refused: %s", text, why);
}

int main(void)
{
	struct neo_address *list, a;
	size_t count;
	char buf[300];
	struct sockaddr_storage ss;
	socklen_t len;

	expect("127.0.0.1:10000", -1, "127.0.0.1", 10000);
	expect("localhost", 9999, "localhost", 9999);
	expect("[::1]:20000", -1, "::1", 20000);
	expect("[fe80::1]", 7, "fe80::1", 7);
	expect("::1", 10000, "::1", 10000);
	expect("127.0.0.1:0", -1, "127.0.0.1", 0);
	expect_bad("127.0.0.1", -1, "a port is required");
	expect_bad("host:99999", -1, "port must be");
	expect_bad("host:x", -1, "port must be");
	expect_bad("[::1", -1, "missing ']'");
	expect_bad(":80", -1, "no host");
	expect_bad("[::1]x", -1, "junk");

	tap_ok(neo_address_list_parse("127.0.0.1:10000 [::1]:10001,\nhost", 10000, &list, &count,
				      err, sizeof(err)) == 0 && count == 3 &&
	       list[1].port == 10001 && strcmp(list[2].host, "host") == 0 && list[2].port == 10000,
	       "a master list with spaces, commas and newlines");
	free(list);
	tap_ok(neo_address_list_parse("a:1 b:x", 0, &list, &count, err, sizeof(err)) == -1,
	       "a bad entry fails the list");

	tap_ok(neo_address_parse("::1", 5, &a, err, sizeof(err)) == 0 &&
	       strcmp(neo_address_format(&a, buf, sizeof(buf)), "[::1]:5") == 0,
	       "IPv6 formats with brackets");
	tap_ok(neo_address_parse("127.0.0.1:6", -1, &a, err, sizeof(err)) == 0 &&
	       strcmp(neo_address_format(&a, buf, sizeof(buf)), "127.0.0.1:6") == 0,
	       "IPv4 formats plainly");
	tap_ok(neo_address_resolve(&a, &ss, &len, err, sizeof(err)) == 0 && ss.ss_family == AF_INET,
	       "IPv4 resolves");
	tap_ok(neo_address_parse("no-such-host.invalid:1", -1, &a, err, sizeof(err)) == 0 &&
	       neo_address_resolve(&a, &ss, &len, err, sizeof(err)) == -1 &&
	       strstr(err, "cannot resolve") != NULL, "an unknown name is an error");
	return tap_done();
}
