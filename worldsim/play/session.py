"""The play loop: a pygame window on the dream, the real simulator, or both side by side.

The window redraws at up to `fps` frames per second; the world advances one step every
`fps / step_hz` frames, so play is deterministic in frames (a scripted run with the same events
gives the same video) and the display stays smooth while the world runs at its own rate. Keys
are read from KEYDOWN/KEYUP events, not the keyboard's live state, for the same reason: tests feed
scripted events through `run(events=...)`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from worldsim.envs.world_sim_env import WorldSimEnv
from worldsim.play import hud as hud_layout
from worldsim.play.controls import COMMON_HELP, Controls

MODES = ("dream", "real", "both")
GAP = 4  # pixels between the real and the dream view


@dataclass
class PlayConfig:
    domain: str | None = None
    checkpoint: str | None = None
    mode: str = "dream"  # dream | real | both (real simulator and dream, same actions)
    physics_blend: float = 1.0
    step_hz: float | None = None  # world steps per second; default: the domain's viewing rate
    fps: int = 60  # display frames per second at most (0: as fast as it goes, to measure)
    scale: int = 8  # window pixels per frame pixel (nearest-neighbour)
    seed: int = 0
    max_frames: int | None = None  # stop after this many display frames (scripted, headless runs)
    record: str | None = None  # record from the start into this .mp4/.gif, written at exit


class PlaySession:
    def __init__(self, config: PlayConfig):
        if config.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {config.mode!r}")
        if config.record and Path(config.record).suffix not in (".mp4", ".gif"):
            raise ValueError(f"--record {config.record}: the video must be a .mp4 or .gif file")
        self.config = config
        self.env = WorldSimEnv(
            domain=config.domain, checkpoint=config.checkpoint, physics_blend=config.physics_blend, render_mode="rgb_array"
        )
        self.domain = self.env.domain
        step_hz = config.step_hz or self.env.metadata["render_fps"]
        self.frames_per_step = max(1, round((config.fps or 60) / step_hz))
        import pygame

        self.pygame = pygame
        pygame.display.init()
        self.controls = Controls(self.domain, pygame)
        self.view = self.env.model.config.frame_size * config.scale
        self.mode = config.mode
        self._layout()
        self.hud = hud_layout.Hud(pygame)
        self.clock = pygame.time.Clock()
        self.source = None  # the real simulator, made when a mode needs it
        self.steps = 0
        self.held: set[int] = set()
        self.paused = False
        self.recording: list[np.ndarray] | None = [] if config.record else None
        self.videos: list[str] = []
        self.episode = 0
        self.reset()

    def _layout(self) -> None:
        width = 2 * self.view + GAP if self.mode == "both" else self.view
        self.screen = self.pygame.display.set_mode((width, self.view + hud_layout.HEIGHT))
        self.pygame.display.set_caption(f"WorldSim play: {self.domain} ({self.mode})")

    # ---- world ----
    def reset(self) -> None:
        seed = self.config.seed + self.episode
        self.episode += 1
        self.t, self.reward, self.total = 0, 0.0, 0.0
        if self.mode == "dream":
            _, info = self.env.reset(seed=seed)
            self.real = None
            self._aim_at(info["state"])
            return
        if self.source is None:
            from worldsim.sources import make_source

            self.source = make_source(self.domain, self.env.model.config.frame_size)
        self.real = self.source.reset(seed=seed)
        self._aim_at(self.real.state)
        frames, actions = [self.real.frame], []
        for _ in range(self.env.context_frames - 1):  # the dream starts from these real frames
            actions.append(self.controls.action(set()))
            self.real = self.source.step(actions[-1])
            frames.append(self.real.frame)
        self.env.reset(seed=seed, options={"context": {"frames": np.stack(frames), "actions": actions}})

    def _aim_at(self, state: np.ndarray) -> None:
        if self.domain == "robotics" and len(state) >= 2:  # the target starts on the agent: no jump
            self.controls.target = np.clip(np.asarray(state[:2], dtype=np.float32), 0.0, 512.0)

    def step(self) -> None:
        action = self.controls.action(self.held, self._mouse())
        ended = False
        if self.mode in ("dream", "both"):
            _, reward, terminated, truncated, _ = self.env.step(action)
            ended = terminated or truncated
        if self.mode in ("real", "both"):
            self.real = self.source.step(action)
            reward = self.real.reward if self.mode == "real" else reward
            ended = ended or self.real.terminated or self.real.truncated
        self.t, self.reward, self.total = self.t + 1, float(reward), self.total + float(reward)
        self.steps += 1
        if self.recording is not None:
            self.recording.append(self._frames())
        if ended:
            self.reset()

    def _frames(self) -> np.ndarray:
        """The native frame(s) on show: real | dream side by side in mode "both"."""
        if self.mode == "dream":
            return self.env.render()
        if self.mode == "real":
            return self.real.frame
        gap = np.full((self.real.frame.shape[0], 1, 3), 255, np.uint8)
        return np.concatenate([self.real.frame, gap, self.env.render()], axis=1)

    # ---- input ----
    def _mouse(self) -> tuple[float, float] | None:
        if not self.pygame.mouse.get_focused():
            return None
        x, y = self.pygame.mouse.get_pos()
        x = x - (self.view + GAP) if self.mode == "both" and x >= self.view + GAP else x
        return (x / self.view, y / self.view) if 0 <= x < self.view and 0 <= y < self.view else None

    def handle(self, event) -> bool:
        """Apply one event; False when the player quits."""
        pg = self.pygame
        if event.type == pg.QUIT:
            return False
        if event.type == pg.KEYUP:
            self.held.discard(event.key)
        if event.type != pg.KEYDOWN:
            return True
        self.held.add(event.key)
        if event.key in (pg.K_q, pg.K_ESCAPE):
            return False
        if event.key == pg.K_r:
            self.reset()
        elif event.key == pg.K_SPACE:
            self.paused = not self.paused
        elif event.key == pg.K_n and self.paused:
            self.step()
        elif event.key == pg.K_TAB:
            self.mode = MODES[(MODES.index(self.mode) + 1) % len(MODES)]
            self._layout()
            self.reset()
        elif event.key in (pg.K_LEFTBRACKET, pg.K_RIGHTBRACKET):
            delta = 0.1 if event.key == pg.K_RIGHTBRACKET else -0.1
            self.env.set_physics_blend(round(min(1.0, max(0.0, self.env.physics_blend + delta)), 2))
        elif event.key == pg.K_v:
            self._toggle_recording()
        return True

    def _toggle_recording(self) -> None:
        if self.recording is None:
            self.recording = []
            return
        self._save_recording(self.config.record or f"worldsim-play-{self.domain}-{len(self.videos) + 1}.mp4")

    def _save_recording(self, path: str) -> None:
        from worldsim.video import write_video

        if self.recording:
            frames = self.recording
            width = max(f.shape[1] for f in frames)  # mode switches change the width: pad to the widest
            frames = [np.pad(f, ((0, 0), (0, width - f.shape[1]), (0, 0)), constant_values=255) for f in frames]
            self.videos.append(str(write_video(path, np.stack(frames), fps=self.env.metadata["render_fps"])))
        self.recording = None

    # ---- display ----
    def draw(self) -> None:
        pg, screen = self.pygame, self.screen
        screen.fill((255, 255, 255))
        views = [self.real.frame] if self.mode != "dream" else []
        views += [self.env.render()] if self.mode != "real" else []
        for i, frame in enumerate(views):
            surface = pg.surfarray.make_surface(np.ascontiguousarray(frame.swapaxes(0, 1)))
            screen.blit(pg.transform.scale(surface, (self.view, self.view)), (i * (self.view + GAP), 0))
        alpha = f"α {self.env.physics_blend:.1f}" if self.mode != "real" else "α -"
        status = (
            f"{self.mode} | {alpha} | step {self.t} | reward {self.reward:+.2f} | return {self.total:.2f} | "
            f"{5 * round(self.clock.get_fps() / 5):.0f} FPS"
        )  # rounded: steadier, and fewer texts to draw
        alerts = " ".join(a for a, on in (("REC", self.recording is not None), ("PAUSED", self.paused)) if on)
        self.hud.draw(screen, self.view, status, alerts, self.controls.help, COMMON_HELP)
        pg.display.flip()

    def run(self, events: Callable[[int], list] | None = None) -> dict:
        """Play until quit or `max_frames`; `events(frame)` replaces the event queue (scripted runs)."""
        frame, running, start = 0, True, time.perf_counter()
        try:
            while running and (self.config.max_frames is None or frame < self.config.max_frames):
                for event in events(frame) if events else self.pygame.event.get():
                    running = self.handle(event) and running
                if events:
                    self.pygame.event.pump()
                if running and not self.paused and frame % self.frames_per_step == self.frames_per_step - 1:
                    self.step()
                self.draw()
                # tick() sleeps in coarse steps and undershoots the rate on a busy machine
                self.clock.tick_busy_loop(self.config.fps)
                frame += 1
        finally:
            if self.recording is not None:
                self._save_recording(self.config.record or f"worldsim-play-{self.domain}-{len(self.videos) + 1}.mp4")
            self.close()
        elapsed = time.perf_counter() - start
        return {
            "domain": self.domain,
            "frames": frame,
            "seconds": elapsed,
            "fps": frame / elapsed if elapsed else 0.0,
            "steps": self.steps,
            "videos": self.videos,
        }

    def close(self) -> None:
        if self.source is not None:
            self.source.close()
            self.source = None
        self.env.close()
        self.pygame.display.quit()
