/*
 * test_admin_progress.c - the lines neoctl print summary shows under the
 * summary for long work (admin/progress.c), from NotifyProgress items as
 * our master sends them: an import (transactions, MB, pace, time left;
 * none once done), a storage's pack (its partition, partitions done,
 * oids, pace, time left), the master's garbage collection (phase, counts,
 * partition where it applies); nothing without a report, or a stale one.
 * And the admin's metrics of the same items (neo_progress_*).
 */
#include <string.h>

#include "admin/admin.h"
#include "proto/codec.h"
#include "runtime/alloc.h"
#include "tap.h"

static struct neo_progress import_item(bool finished)
{
	struct neo_progress p = { 0 };

	p.task = neo_bin_str("import");
	p.nid = 1;		/* S1 */
	p.phase = neo_bin_str(finished ? "done" : "");
	p.done = 12300000;
	p.total = (struct neo_opt_int){ true, 51000000 };
	p.unit = neo_bin_str("bytes");
	p.count = 1234;
	p.count_total = (struct neo_opt_int){ true, 5000 };
	p.count_unit = neo_bin_str("transactions");
	p.rate = 2100000;
	p.left = (struct neo_opt_float){ true, 18.4 };
	return p;
}

static struct neo_progress pack_item(void)
{
	struct neo_progress p = { 0 };

	p.task = neo_bin_str("pack");
	p.nid = 2;		/* S2 */
	p.id = (struct neo_opt_p64){ true, 0x03f1000000000001ull };
	p.phase = neo_bin_str("");
	p.partition = (struct neo_opt_int){ true, 3 };
	p.done = 1200;
	p.unit = neo_bin_str("oids");
	p.count = 2;
	p.count_total = (struct neo_opt_int){ true, 6 };
	p.count_unit = neo_bin_str("partitions");
	p.rate = 800;
	p.left = (struct neo_opt_float){ true, 200 };
	return p;
}

static struct neo_progress gc_item(void)
{
	struct neo_progress p = { 0 };

	p.task = neo_bin_str("gc");
	p.nid = -0x10 * (1 << 24) + 1;	/* M1 */
	p.id = (struct neo_opt_p64){ true, 0x03f1000000000001ull };
	p.phase = neo_bin_str("mark");
	p.done = 1200;
	p.total = (struct neo_opt_int){ true, 3000 };
	p.unit = neo_bin_str("oids");
	p.rate = 500;
	p.left = (struct neo_opt_float){ true, 3725 };
	return p;
}

static void expect_text(struct admin *a, const char *want, const char *what)
{
	char *text = admin_progress_text(a);

	if (!tap_ok(text && strcmp(text, want) == 0, "%s", what))
		tap_diag("got:\n%s\nwant:\n%s", text ? text : "(null)", want);
	neo_free(text);
}

int main(void)
{
	struct admin a;
	struct neo_progress items[3];
	struct neo_notify_progress report = { { items, 0 } };
	struct neo_metrics *registry = neo_metrics_new();
	char *metrics;
	size_t length;

	memset(&a, 0, sizeof a);
	expect_text(&a, "", "no report: no line (the summary stays upstream's)");

	items[0] = import_item(false);
	report.items.count = 1;
	admin_progress_learn(&a, &report);
	expect_text(&a, "import S1: 1234 of 5000 transactions, 12.3 of 51.0 MB (24%), 2.10 MB/s, "
		    "about 18 s left", "an import: transactions, MB, pace, time left");

	items[0] = gc_item();
	items[1] = pack_item();
	items[2] = import_item(true);
	report.items.count = 3;
	admin_progress_learn(&a, &report);
	expect_text(&a,
		    "pack 03f1000000000001 garbage collection (M1): mark, 1200 of 3000 oids (40%), "
		    "500 oids/s, about 1 h 02 min left\n"
		    "pack 03f1000000000001 S2: partition 3, 2 of 6 partitions, 1200 oids, 800 oids/s, "
		    "about 3 min 20 s left",
		    "a collection and a storage's pack, one line each; an import done is not shown");

	tap_ok(registry && admin_progress_metrics_init(&a, registry) == 0,
	       "the progress metrics register");
	admin_progress_collect(&a);
	metrics = registry ? neo_metrics_format(registry, &length) : NULL;
	tap_ok(metrics
	       && strstr(metrics, "neo_progress_done{task=\"pack\",node=\"S2\",unit=\"oids\"} 1200\n")
	       && strstr(metrics, "neo_progress_expected{task=\"pack\",node=\"S2\","
			 "unit=\"partitions\"} 6\n")
	       && strstr(metrics, "neo_progress_partition{task=\"pack\",node=\"S2\"} 3\n")
	       && strstr(metrics, "neo_progress_remaining_seconds{task=\"gc\",node=\"M1\"} 3725\n")
	       && strstr(metrics, "neo_progress_info{task=\"gc\",node=\"M1\","
			 "id=\"03f1000000000001\",phase=\"mark\"} 1\n")
	       && strstr(metrics, "neo_progress_done{task=\"import\",node=\"S1\","
			 "unit=\"transactions\"} 1234\n")
	       && strstr(metrics, "neo_progress_rate{task=\"import\",node=\"S1\","
			 "unit=\"bytes\"} 2100000\n"),
	       "the metrics give the same numbers, the import done included");
	if (metrics && tap_failures())
		tap_diag("%s", metrics);
	neo_free(metrics);

	admin_progress_forget(&a);
	expect_text(&a, "", "the primary lost: nothing shown");
	admin_progress_free(&a);
	neo_metrics_free(registry);
	return tap_done();
}
