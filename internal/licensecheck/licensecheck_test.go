package licensecheck

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Opening sentences of the licences as their projects ship them
// (wrapped, commented) and look-alikes that must not pass for them.
func TestClassify(t *testing.T) {
	for _, tc := range []struct{ name, text, want string }{
		{"MIT", "Copyright (c) 2015 X\n\nPermission is hereby granted, free of charge, to any person obtaining a copy\nof this software", MIT},
		{"BSD-3", "Redistribution and use in source and binary forms, with or without\nmodification, are permitted ...\n   * Neither the name of Google Inc. nor the names of its\ncontributors may be used", BSD3},
		{"BSD-3 without 'neither'", "Redistribution and use in source and binary forms ...\n3. The names of its contributors may not be used to endorse", BSD3},
		{"BSD-2", "Redistribution and use in source and binary forms, with or without\nmodification, are permitted provided that the following conditions are met:\n1. ...\n2. ...", BSD2},
		{"Apache", "                                 Apache License\n                           Version 2.0, January 2004", Apache2},
		{"ISC", "Permission to use, copy, modify, and/or distribute this software for any\npurpose with or without fee is hereby granted", ISC},
		{"ISC older wording", "Permission to use, copy, modify, and distribute this software for any\npurpose with or without fee is hereby granted", ISC},
		{"MPL", "Mozilla Public License Version 2.0\n==================================", MPL2},
		{"MPL naming its secondary licences", "Mozilla Public License, version 2.0\n... \"Secondary License\" means either the GNU General Public License, Version 2.0, the GNU Lesser General Public License, Version 2.1, the GNU Affero General Public License", MPL2},
		{"zlib", "Permission is granted to anyone to use this software for any purpose,\nincluding commercial applications ...\n1. The origin of this software must not be misrepresented", Zlib},
		{"commented MIT", "// Permission is hereby granted, free of charge, to any person obtaining\n// a copy", MIT},
		{"GPL", "GNU GENERAL PUBLIC LICENSE\nVersion 3, 29 June 2007", GPL},
		{"LGPL", "GNU LESSER GENERAL PUBLIC LICENSE\nVersion 3", LGPL},
		{"AGPL", "GNU AFFERO GENERAL PUBLIC LICENSE", AGPL},
		{"GPL beside MIT", "Permission is hereby granted, free of charge, to any person obtaining a copy\n... portions under the GNU General Public License", GPL},
		{"Unlicense", "This is free and unencumbered software released into the public domain.", Unlicense},
		{"proprietary", "All rights reserved. Do not copy.", Unknown},
		{"Apache 1.1", "Apache License, Version 1.1", Unknown},
	} {
		if got := Classify(tc.text); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	mk := func(name, file, text string) Module {
		d := filepath.Join(dir, name)
		os.MkdirAll(d, 0o755)
		if file != "" {
			os.WriteFile(filepath.Join(d, file), []byte(text), 0o644)
		}
		return Module{Path: "example.com/" + name, Version: "v1.0.0", Dir: d}
	}
	mods := []Module{
		mk("mit", "LICENSE.txt", "Permission is hereby granted, free of charge, to any person obtaining a copy"),
		mk("gpl", "COPYING", "GNU GENERAL PUBLIC LICENSE Version 2"),
		mk("none", "", ""),
		mk("odd", "License.md", "You may use this on Tuesdays."),
		mk("named", "LICENSE", "You may use this on Wednesdays."),
	}
	allow, err := ParseAllowList(strings.NewReader("# allowed\nlicence MIT\nmodule example.com/named read by legal on 2026-12-06: permissive\n"))
	if err != nil {
		t.Fatal(err)
	}
	var results []Result
	for _, m := range mods {
		r, err := m.Classify()
		if err != nil {
			t.Fatal(err)
		}
		results = append(results, r)
	}
	var got []string
	for _, p := range allow.Check(results) {
		got = append(got, p[:strings.Index(p, ":")])
	}
	if diff := cmp.Diff([]string{"example.com/gpl v1.0.0", "example.com/none v1.0.0", "example.com/odd v1.0.0"}, got); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	if _, err := ParseAllowList(strings.NewReader("licence\n")); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("bad allow-list line: %v", err)
	}
}
