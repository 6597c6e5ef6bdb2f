/* test_log.c - the node log: levels, file, rotation by reopen. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/log.h"
#include "tap.h"

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	static char buf[8192];
	size_t n;

	if (f == NULL)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

int main(void)
{
	char dir[] = "/tmp/neo-test-log-XXXXXX";
	char path[256], rotated[256];
	char *text;

	if (!tap_ok(mkdtemp(dir) != NULL, "temporary directory"))
		return tap_done();
	snprintf(path, sizeof(path), "%s/node.log", dir);
	snprintf(rotated, sizeof(rotated), "%s/node.log.1", dir);

	tap_ok(neo_log_open(path, NEO_LOG_INFO, "neomaster") == 0, "log file opens");
	neo_log(NEO_LOG_DEBUG, "hidden %d", 1);
	neo_log(NEO_LOG_WARNING, "shown %d", 2);
	neo_log_set_name("M1");
	neo_log(NEO_LOG_ERROR, "named");
	text = read_file(path);
	tap_ok(text && !strstr(text, "hidden"), "lines below the level are dropped");
	tap_ok(text && strstr(text, " WARNING neomaster: shown 2\n"), "level, name and message");
	tap_ok(text && strstr(text, " ERROR M1: named\n"), "the name changes once the id is known");
	tap_ok(text && text[4] == '-' && text[19] == '.', "lines start with a timestamp with milliseconds");

	tap_ok(rename(path, rotated) == 0 && neo_log_reopen() == 0, "reopen after rotation");
	neo_log(NEO_LOG_INFO, "after rotation");
	text = read_file(path);
	tap_ok(text && strstr(text, "after rotation") && !strstr(text, "shown"),
	       "after reopen, lines go to a new file at the original path");
	text = read_file(rotated);
	tap_ok(text && strstr(text, "shown") && !strstr(text, "after rotation"),
	       "the rotated file keeps the old lines");

	tap_ok(neo_log_open("/nonexistent-dir/x.log", NEO_LOG_INFO, "x") == -1,
	       "an unwritable path is an error");
	tap_ok(neo_log_level_parse("debug") == NEO_LOG_DEBUG &&
	       neo_log_level_parse("Warning") == NEO_LOG_WARNING &&
	       neo_log_level_parse("loud") == -1, "level names parse");
	neo_log_close();
	unlink(path);
	unlink(rotated);
	rmdir(dir);
	return tap_done();
}
