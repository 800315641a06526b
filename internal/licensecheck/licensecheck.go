// Package licensecheck classifies the licences of the Go modules Earshot
// is built from and checks them against the allow-list kept in the
// repository (packaging/licenses-allowed.txt). `make lint` runs the check
// (build tag licensecheck): a module whose licence file is missing, is not
// recognised, or names a licence that is not allowed fails it, named.
//
// Classification reads the licence text and looks for each licence's
// distinguishing sentences; it does not try to be a general licence
// scanner. A text it cannot place is "unknown", which fails the check
// until someone reads it and adds the module to the allow-list by name.
package licensecheck

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// Licence identifiers (SPDX).
const (
	MIT        = "MIT"
	BSD2       = "BSD-2-Clause"
	BSD3       = "BSD-3-Clause"
	Apache2    = "Apache-2.0"
	ISC        = "ISC"
	MPL2       = "MPL-2.0"
	Unlicense  = "Unlicense"
	Zlib       = "Zlib"
	GPL        = "GPL"
	LGPL       = "LGPL"
	AGPL       = "AGPL"
	Unknown    = "unknown"
	NoLicence  = "none"
	maxLicence = 1 << 20
)

var space = regexp.MustCompile(`[\s*#/]+`)

// normalise lowercases the text and folds whitespace and comment marks,
// so that wrapped and commented licence texts read alike.
func normalise(text string) string {
	return space.ReplaceAllString(strings.ToLower(text), " ")
}

// Classify names the licence of a licence file's text. A file holding
// several licences (a dual licence, or a notice listing third-party
// code) is classified by the first one matched in this order: copyleft
// first, so that it is never hidden by a permissive notice, after the
// MPL (whose text names the GNU licences as secondary licences).
func Classify(text string) string {
	t := normalise(text)
	has := func(s ...string) bool {
		for _, x := range s {
			if !strings.Contains(t, x) {
				return false
			}
		}
		return true
	}
	switch {
	case has("mozilla public license", "2.0"):
		return MPL2
	case has("gnu affero general public license"):
		return AGPL
	case has("gnu lesser general public license"), has("gnu library general public license"):
		return LGPL
	case has("gnu general public license"):
		return GPL
	case has("apache license", "version 2.0"):
		return Apache2
	case has("permission is hereby granted, free of charge, to any person obtaining a copy"):
		return MIT
	case has("permission to use, copy, modify, and", "distribute this software for any purpose with or without fee is hereby granted"):
		return ISC
	case has("redistribution and use in source and binary forms", "neither the name"),
		has("redistribution and use in source and binary forms", "names of its contributors may not be used"):
		return BSD3
	case has("redistribution and use in source and binary forms"):
		return BSD2
	case has("this is free and unencumbered software released into the public domain"):
		return Unlicense
	case has("permission is granted to anyone to use this software for any purpose", "the origin of this software must not be misrepresented"):
		return Zlib
	}
	return Unknown
}

// licenceFile finds a module's licence file: LICENSE, LICENCE, COPYING
// and their variants (LICENSE.txt, LICENSE.md, License), case aside.
func licenceFile(dir string) (string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	var names []string
	for _, e := range entries {
		n := strings.ToLower(e.Name())
		if !e.IsDir() && (strings.HasPrefix(n, "license") || strings.HasPrefix(n, "licence") || strings.HasPrefix(n, "copying") || n == "unlicense") {
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		return "", nil
	}
	sort.Strings(names) // LICENSE before LICENSE-THIRD-PARTY and the like
	return filepath.Join(dir, names[0]), nil
}

// Module is one module of the build list.
type Module struct {
	Path, Version, Dir string
}

// Result is a module's licence.
type Result struct {
	Module
	File    string // the licence file read, "" for none
	Licence string
}

// Classify reads a module's licence file and classifies it.
func (m Module) Classify() (Result, error) {
	r := Result{Module: m, Licence: NoLicence}
	f, err := licenceFile(m.Dir)
	if err != nil {
		return r, fmt.Errorf("licensecheck: %s: %w", m.Path, err)
	}
	if f == "" {
		return r, nil
	}
	fh, err := os.Open(f)
	if err != nil {
		return r, fmt.Errorf("licensecheck: %s: %w", m.Path, err)
	}
	defer fh.Close()
	text, err := io.ReadAll(io.LimitReader(fh, maxLicence))
	if err != nil {
		return r, fmt.Errorf("licensecheck: %s: %w", m.Path, err)
	}
	r.File, r.Licence = f, Classify(string(text))
	return r, nil
}

// AllowList is the repository's allow-list: licences allowed for every
// module, and modules allowed by name (with the reason, for a licence
// this package cannot classify or one not allowed in general).
type AllowList struct {
	Licences map[string]bool
	Modules  map[string]string // module path -> reason
}

// ParseAllowList reads lines "licence ID" and "module PATH REASON...";
// # starts a comment.
func ParseAllowList(r io.Reader) (AllowList, error) {
	a := AllowList{Licences: map[string]bool{}, Modules: map[string]string{}}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		if line == "" {
			continue
		}
		f := strings.Fields(line)
		switch {
		case f[0] == "licence" && len(f) == 2:
			a.Licences[f[1]] = true
		case f[0] == "module" && len(f) >= 3:
			a.Modules[f[1]] = strings.Join(f[2:], " ")
		default:
			return a, fmt.Errorf("licensecheck: allow-list line %d: want \"licence ID\" or \"module PATH REASON\", got %q", n, line)
		}
	}
	return a, sc.Err()
}

// Check returns one problem per result that the allow-list does not
// allow, naming the module, its licence and the file read.
func (a AllowList) Check(results []Result) []string {
	var out []string
	for _, r := range results {
		if _, ok := a.Modules[r.Path]; ok || a.Licences[r.Licence] {
			continue
		}
		switch r.Licence {
		case NoLicence:
			out = append(out, fmt.Sprintf("%s %s: no licence file in %s", r.Path, r.Version, r.Dir))
		case Unknown:
			out = append(out, fmt.Sprintf("%s %s: licence not recognised (%s); read it and allow the module by name if it may be used", r.Path, r.Version, r.File))
		default:
			out = append(out, fmt.Sprintf("%s %s: licence %s is not in the allow-list (%s)", r.Path, r.Version, r.Licence, r.File))
		}
	}
	return out
}
