"""executors/: the Ray executor on a real Ray instance (2 CPUs) against the local executor.

A Ray head is started once for the module (``ray start --head``) and the runs join it through RAY_ADDRESS, as
on a cluster; one run starts its own local Ray instead. Worker processes are found by their title
(``ray::SegmentWorker...``) and killed with SIGKILL, as a lost machine would be.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psutil
import pytest
from PIL import Image

from conftest import FAST, finish, kill, make_image, start_cli, video_facts, wait_for
from conftest_media import make_shots

pytestmark = pytest.mark.slow

RAY = ("--executor", "ray", "--workers", "2")


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports the OS has free now (all held at once, so none is handed out twice)."""
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in socks]


def stop_head(temp: str, port: int) -> None:
    """Kill the Ray head this module started, and only it: ``ray stop`` would take down every Ray instance of
    the user on the machine. Its processes name the temp dir or the head's address on their command line; the
    workers and agents are their children."""
    address = f":{port}"
    procs = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if proc.pid != os.getpid() and any(temp in arg or (arg.startswith("--address=") and arg.endswith(address))
                                           for arg in cmdline):
            with contextlib.suppress(psutil.Error):
                procs += [proc, *proc.children(recursive=True)]
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.kill()  # as ``ray stop --force``: SIGTERM leaves the GCS server running for tens of seconds
    psutil.wait_procs(procs, timeout=30)


@dataclass(frozen=True)
class Cluster:
    address: str
    temp: str  # the head's --temp-dir: every process of this head names it, or descends from one that does


@pytest.fixture(scope="module")
def ray_cluster():
    """A local Ray head with 2 CPUs on free ports, joined by every run through RAY_ADDRESS; killed at the end."""
    ray_bin = Path(sys.executable).with_name("ray")
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # short: Ray's socket paths must stay under 107 bytes
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}
    # Free ports for the listeners that default to fixed ones, so another Ray on the machine does not clash.
    port, client_port, dashboard_port = free_ports(3)
    ports = {"--port": port, "--ray-client-server-port": client_port, "--dashboard-port": dashboard_port}
    try:
        subprocess.run([str(ray_bin), "start", "--head", "--num-cpus", "2", "--num-gpus", "0",
                        *(str(a) for item in ports.items() for a in item),
                        "--temp-dir", temp, "--disable-usage-stats", "--include-dashboard", "false"],
                       check=True, capture_output=True, env=env, timeout=180)
        previous = os.environ.get("RAY_ADDRESS")
        os.environ["RAY_ADDRESS"] = f"127.0.0.1:{port}"
        os.environ["RAY_AUTH_MODE"] = "disabled"
        try:
            yield Cluster(os.environ["RAY_ADDRESS"], temp)
        finally:
            if previous is None:
                os.environ.pop("RAY_ADDRESS", None)
            else:
                os.environ["RAY_ADDRESS"] = previous
    finally:
        stop_head(temp, port)
        shutil.rmtree(temp, ignore_errors=True)


def run(*args, env: dict | None = None, timeout: float = 300) -> tuple[int, str, str]:
    proc = subprocess.run([sys.executable, "-m", "stylizer", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL, env=env)
    return proc.returncode, proc.stdout, proc.stderr


def pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"), np.int16)


def segment_workers(cluster: Cluster, busy: bool = False) -> list[psutil.Process]:
    """Ray worker processes of our actors in ``cluster`` (children of its raylet, not another Ray's on the
    machine); ``busy``: only those inside a task (title "...SegmentWorker.run")."""
    title = "ray::SegmentWorker.run" if busy else "ray::SegmentWorker"
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info["cmdline"] or [""]
        if cmdline and cmdline[0].startswith(title):
            with contextlib.suppress(psutil.Error):
                if any(cluster.temp in " ".join(parent.cmdline()) for parent in proc.parents()):
                    found.append(proc)
    return found


def test_a_folder_on_a_local_ray_gives_the_local_executors_images(tmp_path: Path, style_image: Path) -> None:
    photos = tmp_path / "photos"
    for i in range(4):
        make_image(photos / f"p{i}.png", 80, 60, seed=i)
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}  # this one starts its own local Ray
    rc, _, err = run(photos, style_image, *FAST, "-o", tmp_path / "local", env=env)
    assert rc == 0, err
    rc, stdout, err = run(photos, style_image, *FAST, *RAY, "-o", tmp_path / "ray", env=env)
    assert rc == 0, err
    assert "done 4" in stdout
    for i in range(4):
        local, remote = pixels(tmp_path / "local" / f"p{i}.png"), pixels(tmp_path / "ray" / f"p{i}.png")
        assert local.shape == remote.shape
        # The same optimisation; only the thread count differs (2 here, 1 per Ray worker).
        assert np.abs(local - remote).max() <= 2 and np.abs(local - remote).mean() < 0.05


def test_a_two_shot_clip_on_ray_gives_the_local_executors_frames(tmp_path: Path, style_image: Path,
                                                                 ray_cluster: Cluster) -> None:
    clip = make_shots(tmp_path / "shots.mp4", [5, 4])
    # The shots move, and a moving view's warm frames would all spend their budget: the two thread counts'
    # rounding (2 here, 1 per Ray worker) then grows past what this compares. The rule runs in the same
    # segment function under either executor (tests/test_segment.py).
    no_minimum = ("--warm-moving-iterations", "0", "--warm-changing-iterations", "0")
    for name, extra in (("local", ()), ("ray", RAY)):
        rc, stdout, err = run(clip, style_image, *FAST, *no_minimum, *extra, "--keep-frames", "-o",
                              tmp_path / f"{name}.mp4")
        assert rc == 0, err
        assert video_facts(tmp_path / f"{name}.mp4")[3] == 9
    frames = {name: sorted((tmp_path / f".{name}.mp4.work" / "frames").glob("*.png")) for name in ("local", "ray")}
    assert [p.name for p in frames["local"]] == [p.name for p in frames["ray"]] and len(frames["local"]) == 9
    for a, b in zip(frames["local"], frames["ray"]):
        assert np.abs(pixels(a) - pixels(b)).max() <= 2, a.name


def test_killing_a_ray_worker_mid_run_still_completes_every_output(tmp_path: Path, style_image: Path,
                                                                   ray_cluster: Cluster) -> None:
    photos = tmp_path / "photos"
    for i in range(6):
        make_image(photos / f"p{i}.png", 128, 96, seed=i)
    out = tmp_path / "out"
    proc = start_cli(photos, style_image, "--size", "128", "--iterations", "25", *RAY, "-o", out)
    # Kill one worker while it optimises an image (after the first image is written, before the last).
    assert wait_for(lambda: any(out.glob("p*.png")) and segment_workers(ray_cluster, busy=True), proc, timeout=240)
    victim = segment_workers(ray_cluster, busy=True)[0]
    victim.send_signal(signal.SIGKILL)
    written = len(list(out.glob("p*.png")))
    victim.wait(30)
    assert written < 6  # the kill landed mid-run
    rc, stdout, err = finish(proc, timeout=400)
    assert rc == 0, err
    assert "done 6" in stdout and "failed 0" in stdout
    for i in range(6):
        image = Image.open(out / f"p{i}.png")
        image.load()
        assert image.size == (128, 96)
    assert not (out / "failures.txt").exists()


def test_a_killed_ray_driver_resumes(tmp_path: Path, style_image: Path, ray_cluster: Cluster) -> None:
    clip = make_shots(tmp_path / "shots.mp4", [10, 10])
    out = tmp_path / "out.mp4"
    frames = tmp_path / ".out.mp4.work" / "frames"
    proc = start_cli(clip, style_image, "--size", "96", "--iterations", "8", "--warm-iterations", "4", *RAY,
                     "-o", out)
    finished = lambda: len(list(frames.glob("[0-9]*.png")))  # noqa: E731  (not the writers' hidden temp files)
    wait_for(lambda: finished() >= 3, proc, timeout=240)
    kill(proc)
    kept = finished()
    assert 3 <= kept < 20
    rc, stdout, err = run(clip, style_image, "--size", "96", "--iterations", "8", "--warm-iterations", "4", *RAY,
                          "-o", out)
    assert rc == 0, err
    assert f"skipped {kept}" in stdout
    assert video_facts(out)[3] == 20
