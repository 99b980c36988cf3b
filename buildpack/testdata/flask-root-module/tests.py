import unittest

from blog import create_app


class BlogCase(unittest.TestCase):
    def setUp(self):
        self.app = create_app()
