package builtin

import "github.com/earshot/earshot/inference/builtin/textclass"

type dispositionModel struct {
	model   *textclass.Model
	version int
}
