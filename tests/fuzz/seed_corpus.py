#!/usr/bin/env python3
"""Write each packet of protocol5.jsonl as one file of a libFuzzer corpus.

    seed_corpus.py protocol5.jsonl CORPUS_DIR
"""
import json
import os
import sys


def main(argv):
    if len(argv) != 3:
        sys.stderr.write(__doc__)
        return 2
    os.makedirs(argv[2], exist_ok=True)
    with open(argv[1]) as f:
        for n, line in enumerate(f, 1):
            packet = bytes.fromhex(json.loads(line)['hex'])
            with open(os.path.join(argv[2], 'vector-%03d' % n), 'wb') as out:
                out.write(packet)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
