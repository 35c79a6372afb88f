// Package tlogtest holds test data shared by the tests of the packages that
// read tlog messages.
package tlogtest

// Lines are tlog message lines covering the decoder's paths, seeds of
// the fuzz tests of rec/tlog and play/reader: real recorder
// output (tlog-rec's and Vigil's with the integrity object), escapes,
// surrogates, duplicate and escaped member names, odd numbers and types.
var Lines = []string{
	`{"ver":"2.3","host":"vm","rec":"880036822e704a8f8b7f642af594eba7-1a70-21a17","user":"root","term":"xterm","session":4294967295,"id":1,"pos":0,"time":1795349830.121,"timing":">2]1/1>1+203>5","in_txt":"","in_bin":[],"out_txt":"hi�\ndone\n","out_bin":[255]}`,
	`{"ver":"2.3","host":"vm","rec":"r","user":"root","term":"xterm","session":4294967295,"id":2,"pos":106,"time":1795350543.017,"timing":"=80x24]2/2>24","in_txt":"","in_bin":[],"out_txt":"�� tab\there \"q\" \\ ctl\u0001\u001b[1m","out_bin":[255,254],"vigil":{"v":1,"seq":2,"prev":"00","drop":{"messages":1,"bytes":2},"meta":{"a":[1,{"b":null}]},"end":true,"hash":"ab"}}`,
	`{"ver":"2.2","host":"h","user":"u","term":"t","session":1,"id":7,"pos":5,"timing":"=100x30<3>4[1/2","in_txt":"ab\ud83d\ude00\ufffd","in_bin":[1,2],"out_txt":"\u00e9\/x\ud800y","out_bin":[]}`,
	` { "ver" : 2 , "host":"","user":"","term":"","session":1,"id":0,"pos":0,"timing":" +0 >1 ","out_txt":"x","in_bin":[ 0 , -0 , 255 , 256 , 1.5 , [1] ],"out_bin":[]} ` + "\n",
	`{"\u0076er":"2.3","ver":"9","host":"h","user":"u","term":"t","session":1,"id":0,"pos":0,"time":1e3,"timing":"","in_bin":[],"out_bin":[]}`,
	`{"ver":"2.3","host":"h","user":"u","term":"t","session":1,"id":0,"pos":0,"time":-0.0,"timing":">1","out_txt":"` + "\xe2\x82x\xff" + `","in_bin":[],"out_bin":[]}`,
	`{"ver":"2.3","host":"h","user":"u","term":"t","session":1,"id":0,"pos":0,"time":12.3456,"timing":"+1>2","out_txt":"😀€","in_bin":[],"out_bin":[],"in_txt":null}`,
	`null`,
	`{"ver":"2.3"}`,
	`{"ver":"2.3","host":"h","user":"u","term":"t","session":0,"id":0,"pos":0,"timing":"","in_bin":[],"out_bin":[]}`,
	`{"ver":"2.3","host":"h","user":"u","term":"t","session":1,"id":0,"pos":2147483648000,"timing":"","in_bin":[],"out_bin":[]}`,
	`{"ver":"2.3","host":"h","user":"u","term":"t","session":1,"id":0,"pos":0,"timing":"]1/3","out_txt":"x","in_bin":[],"out_bin":[1,2]}`,
}
