/* test_config.c - neo.conf syntax, as configparser reads it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/config.h"
#include "tap.h"

static char err[256];

/* The value of key in section, or "<absent>"/"<error>"; static buffer. */
static const char *get(const struct neo_config *cfg, const char *section, const char *key)
{
	static char result[512];
	char *value = NULL;
	int r = neo_config_get(cfg, section, key, &value, NULL, err, sizeof(err));

	snprintf(result, sizeof(result), "%s", r > 0 ? value : r == 0 ? "<absent>" : "<error>");
	free(value);
	return result;
}

static void test_syntax(void)
{
	static const char text[] =
		"# a comment\n"
		"; another\n"
		"[DEFAULT]\n"
		"cluster: test\n"
		"Masters = 127.0.0.1:10000\n"
		"base = /srv/neo\n"
		"\n"
		"[storage1]\n"
		"database: %(base)s/s1.db\n"
		"  ; an indented comment\n"
		"url = a=b:c\n"
		"inline = value # not a comment\n"
		"spaced  =   padded value   \n"
		"percent = 100%%\n"
		"cluster = other\n"
		"monitor_email = a@example.com\n"
		"   b@example.com\n"
		"\tc@example.com\n"
		"empty =\n"
		"[admin]\r\n"
		"bind: 127.0.0.1:9999\r\n";
	struct neo_config *cfg = neo_config_parse_string(text, "neo.conf", err, sizeof(err));
	int line = 0;
	char *value = NULL;

	if (!tap_ok(cfg != NULL, "a typical file parses")) {
		tap_diag("%s", err);
		return;
	}
	tap_ok(strcmp(get(cfg, "storage1", "masters"), "127.0.0.1:10000") == 0,
	       "[DEFAULT] is inherited; keys are case-insensitive");
	tap_ok(strcmp(get(cfg, "storage1", "cluster"), "other") == 0, "a section overrides DEFAULT");
	tap_ok(strcmp(get(cfg, "admin", "cluster"), "test") == 0, "other sections still inherit");
	tap_ok(strcmp(get(cfg, "storage1", "database"), "/srv/neo/s1.db") == 0, "%%(name)s interpolation");
	tap_ok(strcmp(get(cfg, "storage1", "url"), "a=b:c") == 0, "a value may hold : and =");
	tap_ok(strcmp(get(cfg, "storage1", "inline"), "value # not a comment") == 0,
	       "no inline comments");
	tap_ok(strcmp(get(cfg, "storage1", "spaced"), "padded value") == 0, "values and keys trimmed");
	tap_ok(strcmp(get(cfg, "storage1", "percent"), "100%") == 0, "%%%% is a percent sign");
	tap_ok(strcmp(get(cfg, "storage1", "monitor_email"),
		      "a@example.com\nb@example.com\nc@example.com") == 0,
	       "indented lines continue a value, one per line");
	tap_ok(strcmp(get(cfg, "storage1", "empty"), "") == 0, "an empty value");
	tap_ok(strcmp(get(cfg, "admin", "bind"), "127.0.0.1:9999") == 0, "CRLF line ends");
	tap_ok(strcmp(get(cfg, "admin", "nothing"), "<absent>") == 0, "absent key");
	tap_ok(neo_config_get(cfg, "storage1", "url", &value, &line, err, sizeof(err)) == 1 &&
	       line == 11, "the line of a key is known");
	free(value);
	tap_ok(neo_config_has_section(cfg, "admin") && !neo_config_has_section(cfg, "master"),
	       "sections are known");
	tap_ok(neo_config_key_is_referenced(cfg, "base") &&
	       !neo_config_key_is_referenced(cfg, "cluster"),
	       "interpolation references are known");
	neo_config_free(cfg);
}

static void test_first_delimiter_splits(void)
{
	struct neo_config *cfg = neo_config_parse_string("[s]\na = b:c\nd: e=f\n", "x.conf",
							 err, sizeof(err));

	tap_ok(cfg && strcmp(get(cfg, "s", "a"), "b:c") == 0 && strcmp(get(cfg, "s", "d"), "e=f") == 0,
	       "the first ':' or '=' splits key from value");
	neo_config_free(cfg);
}

/* Parsing (or getting s.k from) text must fail with a message containing want. */
static void expect_error(const char *text, const char *want, const char *name)
{
	struct neo_config *cfg;
	bool ok;

	err[0] = '\0';
	cfg = neo_config_parse_string(text, "neo.conf", err, sizeof(err));
	if (cfg != NULL)
		ok = strcmp(get(cfg, "s", "k"), "<error>") == 0 && strstr(err, want) != NULL;
	else
		ok = strstr(err, want) != NULL;
	if (!tap_ok(ok, "error: %s", name))
		tap_diag("message was '%s'", err);
	neo_config_free(cfg);
}

static void test_errors(void)
{
	struct neo_config *cfg;

	expect_error("[s]\nk = 1\njunk line\n", "neo.conf:3: expected 'key = value'", "a line that is no key");
	expect_error("k = 1\n", "neo.conf:1: 'k = 1' comes before any [section]", "a key before any section");
	expect_error("[s]\n[s]\n", "neo.conf:2: section [s] appears twice", "a duplicate section");
	expect_error("[s]\nk = 1\nK = 2\n", "neo.conf:3: option 'k' appears twice", "a duplicate key");
	expect_error("[s\n", "neo.conf:1: malformed section header", "an unclosed header");
	expect_error("[s]\n= 1\n", "neo.conf:2: empty option name", "an empty key");
	expect_error("[s]\nk = %(missing)s\n", "neo.conf:2: 'k' refers to 'missing'", "a missing reference");
	expect_error("[s]\nk = %(a)s\na = %(k)s\n", "nested too deeply", "an interpolation loop");
	expect_error("[s]\nk = 50% off\n", "neo.conf:2: 'k': '%' must be followed", "a lone percent");
	cfg = neo_config_parse_file("/nonexistent/neo.conf", err, sizeof(err));
	tap_ok(cfg == NULL && strstr(err, "/nonexistent/neo.conf: cannot read") != NULL,
	       "an unreadable file names itself");
}

static void test_paths(void)
{
	char *p;
	const char *home = getenv("HOME");

	p = neo_config_expand_path("~/neo.db");
	tap_ok(home && p && strncmp(p, home, strlen(home)) == 0 && strcmp(p + strlen(home), "/neo.db") == 0,
	       "~ expands to the home directory");
	free(p);
	p = neo_config_expand_path("~root/x");
	tap_ok(p && strcmp(p, "/root/x") == 0, "~user expands to that user's home");
	free(p);
	p = neo_config_expand_path("/abs/~x");
	tap_ok(p && strcmp(p, "/abs/~x") == 0, "other paths are left alone");
	free(p);
}

/* A file read in several pieces, with many sections, keys and continued
 * lines: what used to grow one element at a time. */
static void test_big_file(void)
{
	char path[] = "/tmp/neo-test-config-XXXXXX";
	int fd = mkstemp(path);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	struct neo_config *cfg;
	bool ok = true;
	char want[32];

	if (f == NULL) {
		tap_ok(false, "a temporary file");
		return;
	}
	for (int i = 0; i < 300; i++) {
		fprintf(f, "[s%d]\n", i);
		for (int k = 0; k < 10; k++)
			fprintf(f, "key%d = %d\n", k, i * 10 + k);
		fprintf(f, "long = a\n");
		for (int line = 0; line < 20; line++)
			fprintf(f, "  %d\n", line);
	}
	fclose(f);
	cfg = neo_config_parse_file(path, err, sizeof(err));
	unlink(path);
	if (!tap_ok(cfg != NULL, "a file of 300 sections, read in several pieces")) {
		tap_diag("%s", err);
		return;
	}
	for (int i = 0; ok && i < 300; i++) {
		char section[16];

		snprintf(section, sizeof section, "s%d", i);
		snprintf(want, sizeof want, "%d", i * 10 + 9);
		ok = strcmp(get(cfg, section, "key9"), want) == 0 &&
		     strncmp(get(cfg, section, "long"), "a\n0\n1\n", 6) == 0 &&
		     strlen(get(cfg, section, "long")) == 2 + 10 * 2 + 10 * 3 - 1;
	}
	tap_ok(ok, "every section, key and continued value is there");
	neo_config_free(cfg);
}

int main(void)
{
	test_syntax();
	test_first_delimiter_splits();
	test_errors();
	test_paths();
	test_big_file();
	return tap_done();
}
