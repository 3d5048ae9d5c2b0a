# doc_blocks.awk — the ```sh blocks of a Markdown doc that each follow a
# `<!-- NAME -->` line (blank lines between allowed), printed in document
# order as one bash script, each block preceded by
# `echo "## NAME block N" >&2` so a failure names its block. The docs'
# runnable walkthroughs (tests/sdk/docs_quickstart.sh: quickstart in
# docs/plugins.md; tests/deploy/restore_drill.sh: restore-drill in
# docs/operators.md) run exactly what the doc shows.
# usage: awk -v marker=NAME -f doc_blocks.awk DOC.md
$0 ~ "^<!-- " marker " -->[ \t]*$" { armed = 1; next }
armed && /^```sh[ \t]*$/           { n++; inblock = 1; armed = 0; printf "echo \"## %s block %d\" >&2\n", marker, n; next }
inblock && /^```[ \t]*$/           { inblock = 0; next }
inblock                            { print; next }
armed && !/^[ \t]*$/               { armed = 0 }
END { if (inblock) { printf "echo \"unterminated %s block\" >&2; exit 1\n", marker } }
