"""Development tools: stand-ins for the outside world the product talks to.

``devtools.devwiki`` is a throwaway local MediaWiki (installed, served, seeded);
``devtools.devfarm`` two of them joined by the real CentralAuth extension, as on Meta-Wiki;
``devtools.devoauth`` a stand-in for MediaWiki's OAuth extension; ``devtools.sample`` the
demo's request page and the configuration file for a local wiki; ``devtools.ports`` a free
port on 127.0.0.1.  The tests, the benchmarks and the ``ats devwiki`` and ``ats demo``
commands use them; the product itself never does.  They import nothing of the product but
the bridge's OAuth client settings, which the stand-in provider hands out.
"""
