//go:build !eval

package pocketsphinx

import "context"

// warpTracer records the warp scores of a stream's first utterances for
// the development evaluation (warptrace_eval.go, build tag eval); in the
// product it is always nil and its methods do nothing.
type warpTracer struct{}

func newWarpTracer(context.Context) *warpTracer { return nil }
func (*warpTracer) add([]int16)                 {}
func (*warpTracer) uttEnd(*stream)              {}
func (*warpTracer) done(*Engine)                {}
