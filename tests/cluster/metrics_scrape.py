"""metrics_scrape.py - scrapes daemons' /metrics and parses the text with
prometheus_client's own parser (text_string_to_metric_families, from
PyPI), for tests/cluster/test_metrics.c.

It reads URLs on stdin, one a line, and for each prints:

    type NAME TYPE                  one per family, as the parser names it
    sample NAME LABELS VALUE        LABELS: k=v,k=v sorted by key, or -
    end ok                          or: end error WHY

"end error" when the answer is not 200 with the text format's
Content-Type, or the text does not parse (the parser raises ValueError).
One process serves every scrape of a test: importing the parser costs
more than a scrape.
"""

import sys
import urllib.request

from prometheus_client.parser import text_string_to_metric_families


def scrape(url):
    with urllib.request.urlopen(url, timeout=10) as answer:
        content_type = answer.headers.get('Content-Type', '')
        text = answer.read().decode('utf-8')
    if answer.status != 200 or not content_type.startswith('text/plain; version=0.0.4'):
        raise ValueError('bad answer: %s %r' % (answer.status, content_type))
    out = []
    for family in text_string_to_metric_families(text):
        out.append('type %s %s' % (family.name, family.type))
        for sample in family.samples:
            labels = ','.join('%s=%s' % (k, v) for k, v in sorted(sample.labels.items()))
            out.append('sample %s %s %r' % (sample.name, labels or '-', float(sample.value)))
    return out


def main():
    for line in sys.stdin:
        url = line.strip()
        if not url:
            continue
        try:
            out = scrape(url) + ['end ok']
        except (OSError, ValueError) as e:
            out = ['end error %s: %s' % (type(e).__name__, str(e).replace('\n', ' '))]
        print('\n'.join(out), flush=True)


if __name__ == '__main__':
    main()
