"""A pygame window showing dream frames, upscaled with nearest-neighbour."""

from __future__ import annotations

import numpy as np


class Viewer:
    def __init__(self, title: str, frame_size: int, scale: int = 8):
        import pygame

        pygame.init()
        self.pygame = pygame
        self.size = frame_size * scale
        self.screen = pygame.display.set_mode((self.size, self.size))
        pygame.display.set_caption(title)
        self.clock = pygame.time.Clock()

    def show(self, frame: np.ndarray, fps: float) -> None:
        pygame = self.pygame
        pygame.event.pump()
        surface = pygame.surfarray.make_surface(np.ascontiguousarray(frame.swapaxes(0, 1)))
        self.screen.blit(pygame.transform.scale(surface, (self.size, self.size)), (0, 0))
        pygame.display.flip()
        self.clock.tick(fps)

    def close(self) -> None:
        self.pygame.display.quit()
