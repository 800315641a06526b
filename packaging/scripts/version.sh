#!/bin/sh
# version.sh [DIR]: prints the Debian version of the checkout in DIR (default
# the current directory), which is also what `earshot version` prints.
#
#   on a release tag vX.Y.Z (clean tree)   X.Y.Z
#   on a tag vX.Y.Z-rcN                    X.Y.Z~rcN          (before X.Y.Z)
#   after tag vX.Y.Z, at commit C          X.Y.(Z+1)~gitYYYYMMDD.HHMMSS.C
#   no release tag yet                     0.1.0~gitYYYYMMDD.HHMMSS.C
#   uncommitted changes                    the above + ".dirty" (never on a tag)
#
# The date and time are the commit's (UTC), so that snapshots order by when
# they were committed and every snapshot sorts after the release before it
# and before the next one (dpkg --compare-versions; packaging tests check
# the order). Outside a git checkout it prints 0.0.0~unknown.
set -eu
cd "${1:-.}"
if ! git rev-parse --git-dir >/dev/null 2>&1; then
	echo 0.0.0~unknown
	exit 0
fi
dirty=""
git diff --quiet HEAD -- 2>/dev/null || dirty=".dirty"
commit=$(git rev-parse --short=7 HEAD)
stamp=$(TZ=UTC git show -s --format=%cd --date=format-local:%Y%m%d.%H%M%S HEAD)
tag=$(git describe --tags --abbrev=0 --match 'v[0-9]*.[0-9]*.[0-9]*' 2>/dev/null || true)
if [ -z "$tag" ]; then
	echo "0.1.0~git$stamp.$commit$dirty"
	exit 0
fi
base=${tag#v}
rc=""
case $base in *-*) rc=${base#*-} base=${base%%-*} ;; esac
if [ "$(git rev-list -n1 "$tag^{commit}")" = "$(git rev-parse HEAD)" ] && [ -z "$dirty" ]; then
	[ -n "$rc" ] && echo "$base~$rc" || echo "$base"
	exit 0
fi
if [ -n "$rc" ]; then
	# After a release candidate the next release is the same version.
	echo "$base~$rc.git$stamp.$commit$dirty"
	exit 0
fi
major=${base%%.*} rest=${base#*.}
minor=${rest%%.*} patch=${rest#*.}
echo "$major.$minor.$((patch + 1))~git$stamp.$commit$dirty"
