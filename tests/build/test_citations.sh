#!/bin/sh
# test_citations.sh - comments cite design notes that are in the tree, and
# sections those notes have.  TAP output.
#
# Every source, build and documentation file of the tree is read (C, headers,
# Python, shell, .am, .def, .in, configure.ac, READMEs, NEWS and the notes
# themselves).  Each name ending in ".md" must be a file of the tree, found
# from the top of the tree or from the citing file's folder, without ".." and
# not absolute.  When a section follows the name ("section 9.2", "sections
# 2 and 3", "sections 5 to 8", "§4", or a bare "7.10"), possibly on the next
# comment line, the note must have a heading with that number ("## 9." or
# "### 9.2 ...").  Nothing may point at the design digests kept outside the
# repository.  Names of files that programs write (not citations) are
# listed in NOT_CITATIONS; a name that follows a shell or make expansion
# ("$dir/x.md") is a path computed at run time and is not checked.

srcdir=${srcdir:-.}
top=$(cd "$srcdir" && pwd)
scratch=$(mktemp -d /tmp/neo-test-citations-XXXXXX)
trap 'rm -rf "$scratch"' EXIT
n=0
failed=0
NOT_CITATIONS="zodb_bench.md"

ok() {
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		failed=1
	fi
}

# The files to read, relative to the top of the tree.
(cd "$top" && find . \( -name .git -o -name '_build*' -o -name autom4te.cache -o -name .libs \
	-o -name .deps -o -name corpus \) -prune -o -type f \
	\( -name '*.c' -o -name '*.h' -o -name '*.py' -o -name '*.sh' -o -name '*.am' \
	-o -name '*.def' -o -name '*.in' -o -name '*.ac' -o -name '*.md' -o -name README \
	-o -name NEWS \) -print) | sed 's|^\./||' | grep -v '^tests/build/test_citations\.sh$' |
	sort >"$scratch/files"

# One line per finding: "cite FILE:LINE NOTE SECTION" ("-" for no section),
# "missing FILE:LINE NAME why", "outside FILE:LINE".
while read -r file; do
	awk -v file="$file" -v top="$top" -v skip=" $NOT_CITATIONS " '
	function strip(s) {
		sub(/^[ \t]*/, "", s)
		sub(/^(\/\*+|\*+\/?|\/\/+|#+|--)[ \t]*/, "", s)
		return s
	}
	function exists(path) {
		return system("test -f \"" path "\"") == 0
	}
	{ raw[NR] = $0; text[NR] = strip($0) }
	END {
		dir = file; if (!sub(/\/[^\/]*$/, "", dir)) dir = "."
		for (i = 1; i <= NR; i++) {
			if (raw[i] ~ /shared\/design/)
				print "outside " file ":" i
			line = text[i]
			while (match(line, /[A-Za-z0-9_.\/-]*[A-Za-z0-9_-]\.md([^A-Za-z0-9_]|$)/)) {
				name = substr(line, RSTART, RLENGTH)
				sub(/[^d]$/, "", name)
				before = RSTART > 1 ? substr(line, RSTART - 1, 1) : ""
				rest = substr(line, RSTART + length(name)) " " text[i + 1]
				line = substr(line, RSTART + length(name))
				if (before ~ /[$})]/)
					continue	# a path computed at run time
				base = name; sub(/.*\//, "", base)
				if (index(skip, " " base " "))
					continue
				if (name ~ /^\// || name ~ /(^|\/)\.\.\//) {
					print "missing " file ":" i " " name " (outside the tree)"
					continue
				}
				if (exists(top "/" name))
					note = name
				else if (exists(top "/" dir "/" name))
					note = dir "/" name
				else {
					print "missing " file ":" i " " name " (no such file in the tree)"
					continue
				}
				sub(/^[\140\042\047]?,?/, "", rest)
				num = "[0-9]+(\\.[0-9]+)*"
				secs = ""
				if (match(rest, "^ *(sections?|§§?) *" num "((, *| and | or | to |-)" num ")*") || \
				    match(rest, "^ +" num "([^0-9A-Za-z.]|\\.[^0-9]|$)"))
					secs = substr(rest, RSTART, RLENGTH)
				if (secs == "") {
					print "cite " file ":" i " " note " -"
					continue
				}
				while (match(secs, num)) {
					print "cite " file ":" i " " note " " substr(secs, RSTART, RLENGTH)
					secs = substr(secs, RSTART + RLENGTH)
				}
			}
		}
	}' "$top/$file"
done <"$scratch/files" >"$scratch/findings"

# The sections each cited note has.
sections_of() {
	sed -n 's/^#\{1,6\}[ \t]\{1,\}\([0-9][0-9.]*[0-9]\)\.\{0,1\}\([ \t].*\)\{0,1\}$/\1/p;
		s/^#\{1,6\}[ \t]\{1,\}\([0-9]\)\.\{0,1\}\([ \t].*\)\{0,1\}$/\1/p' "$top/$1"
}

for note in core/proto/protocol.md core/neo/backend.md core/cluster/cluster.md; do
	count=$( [ -f "$top/$note" ] && sections_of "$note" | wc -l )
	[ "${count:-0}" -ge 5 ]
	ok $? "the design note $note is in the tree, with numbered sections (${count:-0})"
done

grep '^missing ' "$scratch/findings" | sed 's/^missing /# /'
! grep -q '^missing ' "$scratch/findings"
ok $? "every .md file named in the tree's sources is in the tree"

: >"$scratch/bad"
cited=0
while read -r kind where note section; do
	[ "$kind" = cite ] && [ "$section" != - ] || continue
	cited=$((cited + 1))
	sections_of "$note" | grep -qx "$section" ||
		echo "# $where: cites $note section $section, which that note does not have" >>"$scratch/bad"
done <"$scratch/findings"
cat "$scratch/bad"
[ ! -s "$scratch/bad" ] && [ "$cited" -ge 10 ]
ok $? "every section cited ($cited citations) exists in the cited note"

grep '^outside ' "$scratch/findings" | sed 's/^outside \(.*\)/# \1: points outside the repository/'
! grep -q '^outside ' "$scratch/findings"
ok $? "no source points at design documents outside the repository"

echo "1..$n"
exit $failed
