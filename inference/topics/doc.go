// Package topics discovers the topics of a site's own conversations without
// supervision, labels them with their top keywords, and assigns new texts to
// the topics found.
//
// Discovery (Discover) turns each text into a TF-IDF vector of word 1-2
// grams (English function words dropped) and character 2-5 grams inside
// word boundaries, reduces the vectors to a few hundred latent dimensions
// with a randomised truncated SVD (latent semantic analysis), and clusters
// them by average-linkage agglomeration on cosine distance, cut at a
// distance threshold: the number of topics follows from the data, nobody
// gives it. Clusters smaller than MinTopicSize are dissolved into their
// nearest topic. Each topic keeps a sparse TF-IDF centroid, its keywords
// (the terms that weigh more in it than across all texts) and its most
// central members as representatives.
//
// A Model is immutable and safe for concurrent use. Assign places a new
// text in the nearest topic when it is close enough; Label (an optional
// Labeler, e.g. a local language model) renames topics. Models serialise
// with MarshalBinary for storage.
//
// The package sees only texts: callers choose which texts (customer
// utterances of a queue and period, unmatched virtual-agent queries) and
// keep the link from a text back to its engagement.
package topics
