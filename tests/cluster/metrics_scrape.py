"""metrics_scrape.py URL - scrapes a daemon's /metrics and parses it with
prometheus_client's own parser (text_string_to_metric_families, from
PyPI), for tests/cluster/test_metrics.c, which reads the lines printed:

    type NAME TYPE                  one per family, as the parser names it
    sample NAME LABELS VALUE        LABELS: k=v,k=v sorted by key, or -

The exit status is 1 when the answer is not 200 with the text format's
Content-Type, or does not parse (the parser raises ValueError).
"""

import sys
import urllib.request

from prometheus_client.parser import text_string_to_metric_families


def main(url):
    with urllib.request.urlopen(url, timeout=10) as answer:
        content_type = answer.headers.get('Content-Type', '')
        text = answer.read().decode('utf-8')
    if answer.status != 200 or not content_type.startswith('text/plain; version=0.0.4'):
        print('bad answer: %s %r' % (answer.status, content_type), file=sys.stderr)
        return 1
    out = []
    for family in text_string_to_metric_families(text):
        out.append('type %s %s' % (family.name, family.type))
        for sample in family.samples:
            labels = ','.join('%s=%s' % (k, v) for k, v in sorted(sample.labels.items()))
            out.append('sample %s %s %r' % (sample.name, labels or '-', float(sample.value)))
    print('\n'.join(out))
    return 0


if __name__ == '__main__':
    try:
        sys.exit(main(sys.argv[1]))
    except (OSError, ValueError) as e:
        print('%s: %s' % (type(e).__name__, e), file=sys.stderr)
        sys.exit(1)
