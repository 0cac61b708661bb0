"""The built-in spawn strategy: how the scheduler starts a worker process on this host.

Owns the ``local`` spawner (``local``: a fresh interpreter per execution in ``exec`` mode,
a fork in the default ``fork`` mode) and the fork server it forks from (``forkserver``:
the server process, started once per scheduler with the workflow modules preloaded;
``forkserver_child``: what a forked child does before it becomes the worker;
``forkserver_client``: the scheduler's side of the conversation). Other strategies are
plugins (``plugins/wfsched-spawner-*``) implementing ``framework.spawning``. It may import
the worker (a forked child runs it), the framework and ``base``; never the scheduler.
"""
