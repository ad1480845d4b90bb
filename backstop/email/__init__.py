"""Email: rendering, the queue of messages, send domains, branding and suppression.

Other domains queue mail with ``backstop.email.messages.queue_email``; everything else here
serves that one call and the admin pages around it.
"""
