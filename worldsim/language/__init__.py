"""What a scene can be asked for in words: attributes read off the physical state, captions that
describe a state in varied words, and prompts read back into attributes.

One `AttributeTable` per domain (`DomainSpec.attributes`) names the attributes a prompt may ask for
("the block in the top-left corner", "ego at 30 m/s", "a car 10 m ahead braking"), how each is read
off a recorded physical state, and the phrases that say each value. Captions for training the text
encoder are drawn from those phrases (`captions.py`); prompts are checked and parsed against the
same table (`prompt.py`), so that a prompt the domain cannot ground gets a clear error instead of a
random scene. Plain numpy and regular expressions: no model, no simulator.
"""
