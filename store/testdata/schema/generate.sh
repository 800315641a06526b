#!/bin/bash
# generate.sh: rebuilds the data directories in this folder, one per earlier
# schema version, each written by the last commit of the repository that
# wrote that version (store/migrate_test.go opens them with the current
# code). Run from anywhere inside the repository; it needs git, go, curl and
# python3 and the build's Debian packages, and takes a few minutes (one build per
# version). The output is committed: the fixtures must not change when the
# old code can no longer be built.
#
#   v1  af9a1e7  content schema 1, no keys.db (written through the store package)
#   v2  b220533  content 2, keys.db 1   (through the daemon's API from here on)
#   v3  73a4bcf  content 3, keys.db 1   (adds a knowledge-base article)
#   v4  b16610e  content 4, keys.db 1
#   v5  1520c5c  content 5, keys.db 1
#   v6  1089df4  content 6, keys.db 2   (the daemon now stores its trained intent model: 9 MB)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(git -C "$here" rev-parse --show-toplevel)
work=$(mktemp -d)
cleanup() {
	[ -n "${pid:-}" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
	for wt in "$work"/src-*; do [ -d "$wt" ] && git -C "$root" worktree remove --force "$wt"; done
	rm -rf "$work"
}
trap cleanup EXIT

checkout() { # checkout VERSION COMMIT
	git -C "$root" worktree add --detach "$work/src-$1" "$2" >/dev/null 2>&1
	echo "$work/src-$1"
}

save() { # save VERSION DATADIR
	rm -rf "${here:?}/v$1" && mkdir -p "$here/v$1"
	for f in earshot.db keys.db; do
		if [ -f "$2/$f" ]; then install -m 0600 "$2/$f" "$here/v$1/$f"; fi
	done
	# The file provider's KEK directory (kek/kek-N.key).
	if [ -d "$2/kek" ]; then cp -a "$2/kek" "$here/v$1/kek"; fi
	echo "v$1: $(ls "$here/v$1" | tr '\n' ' ')"
}

# v1: the store package alone.
src=$(checkout 1 af9a1e7)
mkdir -p "$src/cmd/genfixture"
cat > "$src/cmd/genfixture/main.go" <<'GO'
package main

import (
	"os"
	"time"

	"github.com/earshot/earshot/store"
)

func main() {
	s, err := store.Open(store.Options{Dir: os.Args[1]})
	if err != nil {
		panic(err)
	}
	defer s.Close()
	must(s.CreateQueue(store.Queue{ID: "cards", Name: "Cards"}))
	must(s.CreateUser(store.User{ID: "ana", Role: "agent", Queues: []string{"cards"}}))
	must(s.CreateUser(store.User{ID: "root", Role: "admin"}))
	must(s.CreateToken(store.Token{ID: "tok_fixture000001", UserID: "ana", Hash: store.HashSecret("fixture-secret"), CreatedAt: time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)}))
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}
GO
(cd "$src" && go run ./cmd/genfixture "$work/data-1")
save 1 "$work/data-1"

# v2..v6: the daemon of the time, driven through its API.
api() { # api METHOD PATH [BODY]
	curl -fsS -X "$1" -H "Authorization: Bearer $(cat "$data/admin.token")" \
		-H 'Content-Type: application/json' ${3:+-d "$3"} "$base$2"
}
for pair in 2:b220533 3:73a4bcf 4:b16610e 5:1520c5c 6:1089df4; do
	v=${pair%%:*} commit=${pair#*:}
	src=$(checkout "$v" "$commit")
	(cd "$src" && go build -o "$work/earshot-$v" ./cmd/earshot)
	data="$work/data-$v"
	mkdir -p "$data"
	printf 'data_dir: %s\nlisten: 127.0.0.1:0\n' "$data" > "$work/conf-$v.yaml"
	"$work/earshot-$v" serve --config "$work/conf-$v.yaml" 2> "$work/log-$v" &
	pid=$!
	base=""
	for _ in $(seq 300); do
		base=$(grep -o 'api=http://[0-9.:]*' "$work/log-$v" | head -1 | cut -d= -f2 || true)
		[ -n "$base" ] && [ -f "$data/admin.token" ] && break
		sleep 0.2
	done
	[ -n "$base" ] || { cat "$work/log-$v"; exit 1; }
	api POST /api/v1/queues '{"id":"cards","name":"Cards"}' >/dev/null
	api POST /api/v1/users '{"id":"ana","role":"agent","queues":["cards"]}' >/dev/null
	api POST /api/v1/tokens '{"user_id":"ana","expires_in":"720h"}' >/dev/null
	eng=$(api POST /api/v1/engagements '{"queue":"cards","channel":"chat","agent":"ana","customer_ref":"CUST-1"}' | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')
	api POST "/api/v1/engagements/$eng/messages" '{"sender":"customer","text":"my card was stolen yesterday"}' >/dev/null
	api POST "/api/v1/engagements/$eng/messages" '{"sender":"agent","text":"I have blocked the card and ordered a new one"}' >/dev/null
	api POST "/api/v1/engagements/$eng/end" '{}' >/dev/null
	for _ in $(seq 100); do api GET "/api/v1/engagements/$eng/results" >/dev/null 2>&1 && break; sleep 0.2; done
	if [ "$v" -ge 3 ]; then
		api PUT /api/v1/kb/articles/kb-1 '{"title":"Blocking a card","body":"Block a stolen card at once and order a new one."}' >/dev/null
	fi
	kill -TERM "$pid" && wait "$pid" || true
	pid=""
	save "$v" "$data"
done
