// Package textclass is a pure-Go linear text classifier: TF-IDF features over
// word 1-2 grams and character 2-5 grams (inside word boundaries), and a
// one-vs-rest linear SVM (squared hinge loss) trained by dual coordinate
// descent. Training is deterministic given a seed and uses every core it is
// allowed; a trained Model is immutable, safe for concurrent use, and
// serialisable with MarshalBinary/UnmarshalBinary so a site's trained models
// can be stored.
//
// It backs the built-in intent detector, the trainable sentiment model and
// the disposition classifier.
package textclass
