"""A WHIP client built on aiortc, used by the Go tests as a second real client.

Usage: whip_client.py URL TOKEN WAV [WAV]   (one audio track per WAV file:
16-bit mono)

It publishes the files (Opus) as live audio on one clock: the tracks start
together, and a track whose sender starts late begins with the audio of that
moment, as a live source's would (what was said before is gone). It waits
until they have been played, DELETEs the session and prints "done <status>".
ICE uses loopback only and no STUN.
"""
import asyncio
import fractions
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import wave

import aioice.ice

# Offer loopback candidates only: the tests talk to 127.0.0.1 and nothing else.
aioice.ice.get_host_addresses = lambda use_ipv4=True, use_ipv6=True: ["127.0.0.1"]

import av  # noqa: E402
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription  # noqa: E402
from aiortc.mediastreams import MediaStreamError  # noqa: E402


class LiveWavTrack(MediaStreamTrack):
    """Plays a 16-bit mono WAV file in 20 ms frames on a clock shared by
    all tracks (clock["start"] is set by the first frame of any track)."""

    kind = "audio"

    def __init__(self, path, clock):
        super().__init__()
        with wave.open(path) as w:
            if w.getsampwidth() != 2 or w.getnchannels() != 1:
                raise ValueError(path + ": want 16-bit mono")
            self.rate = w.getframerate()
            self.pcm = w.readframes(w.getnframes())
        self.clock = clock
        self.frame = self.rate // 50
        self.pos = None  # sample index of the next frame

    async def recv(self):
        if self.readyState != "live":
            raise MediaStreamError
        now = time.monotonic()
        if self.clock.get("start") is None:
            self.clock["start"] = now
        start = self.clock["start"]
        if self.pos is None:
            # Live: begin with the audio of this moment.
            self.pos = int((now - start) * self.rate) // self.frame * self.frame
        else:
            wait = start + self.pos / self.rate - now
            if wait > 0:
                await asyncio.sleep(wait)
        if 2 * self.pos >= len(self.pcm):
            self.stop()
            raise MediaStreamError
        chunk = self.pcm[2 * self.pos:2 * (self.pos + self.frame)]
        chunk += bytes(2 * self.frame - len(chunk))
        frame = av.AudioFrame(format="s16", layout="mono", samples=self.frame)
        frame.planes[0].update(chunk)
        frame.sample_rate = self.rate
        frame.pts = self.pos
        frame.time_base = fractions.Fraction(1, self.rate)
        self.pos += self.frame
        return frame


def request(method, url, token, body=None, ctype=None):
    headers = {"Authorization": "Bearer " + token}
    if ctype:
        headers["Content-Type"] = ctype
    req = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, dict(resp.headers), resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()


async def main(url, token, wavs):
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    clock = {}
    tracks = [LiveWavTrack(w, clock) for w in wavs]
    for tr in tracks:
        pc.addTrack(tr)
    await pc.setLocalDescription(await pc.createOffer())
    status, headers, answer = await asyncio.to_thread(
        request, "POST", url, token, pc.localDescription.sdp.encode(), "application/sdp")
    if status != 201:
        print("post", status, answer, flush=True)
        return 1
    location = urllib.parse.urljoin(url, headers["Location"])
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    for _ in range(1200):  # at most 120 s
        if all(tr.readyState == "ended" for tr in tracks):
            break
        await asyncio.sleep(0.1)
    else:
        print("timeout: tracks still playing, connection", pc.connectionState, flush=True)
        return 1
    await asyncio.sleep(1.0)  # let the last packets arrive
    status, _, _ = await asyncio.to_thread(request, "DELETE", location, token)
    print("done", status, pc.connectionState, flush=True)
    await pc.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3:])))
