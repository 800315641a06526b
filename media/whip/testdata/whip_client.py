"""A WHIP client built on aiortc, used by the Go tests as a second real client.

Usage: whip_client.py URL TOKEN WAV [WAV]   (one audio track per WAV file)

It publishes the files (Opus), waits until they have been played, DELETEs the
session and prints "done <status>". ICE uses loopback only and no STUN.
"""
import asyncio
import sys
import urllib.error
import urllib.parse
import urllib.request

import aioice.ice

# Offer loopback candidates only: the tests talk to 127.0.0.1 and nothing else.
aioice.ice.get_host_addresses = lambda use_ipv4=True, use_ipv6=True: ["127.0.0.1"]

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription  # noqa: E402
from aiortc.contrib.media import MediaPlayer  # noqa: E402


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
    players = [MediaPlayer(w) for w in wavs]
    for p in players:
        pc.addTrack(p.audio)
    await pc.setLocalDescription(await pc.createOffer())
    status, headers, answer = await asyncio.to_thread(
        request, "POST", url, token, pc.localDescription.sdp.encode(), "application/sdp")
    if status != 201:
        print("post", status, answer, flush=True)
        return 1
    location = urllib.parse.urljoin(url, headers["Location"])
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    for _ in range(1200):  # at most 120 s
        if all(p.audio.readyState == "ended" for p in players):
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
