"""The heads-up display under the view: status line, the domain's controls, the common keys."""

from __future__ import annotations

LINE_HEIGHT = 20
LINES = 3
HEIGHT = LINES * LINE_HEIGHT + 6
BACKGROUND, TEXT, ALERT = (24, 24, 24), (230, 230, 230), (255, 90, 90)


class Hud:
    def __init__(self, pygame):
        pygame.font.init()
        self.pygame = pygame
        self.font = pygame.font.Font(None, 22)  # pygame's bundled font: works without system fonts
        self._texts: dict[tuple[str, tuple], object] = {}  # rendering text is the HUD's main cost

    def _text(self, text: str, colour: tuple):
        key = (text, colour)
        if key not in self._texts:
            if len(self._texts) > 256:
                self._texts.clear()
            self._texts[key] = self.font.render(text, True, colour)
        return self._texts[key]

    def draw(self, screen, top: int, status: str, alerts: str, controls: str, common: str) -> None:
        width = screen.get_width()
        self.pygame.draw.rect(screen, BACKGROUND, (0, top, width, HEIGHT))
        y = top + 4
        screen.blit(self._text(status, TEXT), (6, y))
        if alerts:
            text = self._text(alerts, ALERT)
            screen.blit(text, (width - text.get_width() - 6, y))
        screen.blit(self._text(controls, TEXT), (6, y + LINE_HEIGHT))
        screen.blit(self._text(common, TEXT), (6, y + 2 * LINE_HEIGHT))
