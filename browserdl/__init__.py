"""browserdl: what does it cost to run this network in the browser instead of natively?"""

__version__ = "0.1.0"
