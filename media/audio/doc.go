// Package audio holds the PCM helpers of the media pipeline: 16-bit sample
// conversion, channel splitting and a streaming polyphase windowed-sinc
// resampler that brings every source to the recogniser rate (16 kHz).
package audio
