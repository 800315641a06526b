package nlu

// BackgroundLabel is the label of the background class: messages that
// carry no request a bot could serve. It is never reported as an intent;
// a message whose best label is the background is out of scope.
const BackgroundLabel = "_background"

// Background is the built-in background class (English): small talk,
// fillers, vague replies and requests from unrelated domains, written for
// Earshot. Bots learn it beside their intents, so that messages unlike
// anything the bot does score low even when a bot has few phrases.
var Background = []string{
	"what", "why", "how", "who", "hmm", "huh", "ok", "okay", "sure", "maybe", "no idea", "dunno", "I don't know",
	"whatever", "not sure", "can you repeat that", "what do you mean", "I'm confused", "that makes no sense",
	"test", "testing 123", "asdf", "blah blah", "lol", "haha that's funny", "are you a robot", "are you human",
	"what is your name", "how old are you", "where are you from", "do you like music", "tell me a joke",
	"what's the meaning of life", "are you smart", "you are useless", "this is stupid", "I'm bored",
	"what's the weather like today", "will it rain tomorrow", "how hot is it outside", "is it going to snow",
	"who won the football game last night", "what's the score of the match", "recommend a good movie",
	"what's on TV tonight", "play some music", "sing me a song", "what time is it in Tokyo", "set an alarm for 7",
	"remind me to call my mother", "how do I bake a chocolate cake", "give me a recipe for pasta",
	"what should I cook for dinner", "how many calories in an apple", "where is the nearest pizza place",
	"book a table for two", "how far is the moon", "why is the sky blue", "how do airplanes fly",
	"what is the capital of Australia", "translate hello into French", "how do you spell necessary",
	"what is two plus two", "solve this equation for x", "write me a poem about the sea", "tell me a story",
	"I need help with my homework", "how do I fix my bicycle chain", "my car makes a strange noise",
	"my laptop won't turn on", "how do I reset my router", "my phone screen is cracked", "how do I install windows",
	"what's the best video game", "how do I lose weight", "I have a headache", "book me a doctor's appointment",
	"how do I get to the train station", "when does the next bus leave", "find me a cheap flight to Rome",
	"is the museum open on Sunday", "how much does a ticket to the zoo cost", "I want to adopt a puppy",
	"what do cats eat", "my dog is sick", "how tall is the Eiffel tower", "who painted the Mona Lisa",
	"how many legs does a spider have", "what language do they speak in Brazil", "who is the president",
	"what are the election results", "I love you", "will you marry me", "good night", "sweet dreams",
	"I'm just looking around", "nothing", "never mind that", "forget what I said", "one moment",
	"hold on", "wait a second", "let me think", "I'll be right back", "brb", "can you hear me",
	"hello is anyone there", "is this thing working", "bananas are yellow", "my favourite colour is green",
	"I went to the beach last summer", "the concert was amazing", "I'm learning to play guitar",
	"do you dream", "are you alive", "what do you think about politics", "tell me something interesting",
	"how do I grow tomatoes", "when should I plant roses", "how do I knit a scarf",
	"what's a good name for a cat", "how do I tie a tie", "what is quantum physics",
	"explain black holes", "how does the internet work", "what is artificial intelligence",
	"lorem ipsum dolor sit amet", "the quick brown fox jumps over the lazy dog", "yes no maybe",
	"hello hello hello", "12345", "aaaaaa", "???", "...",
}
