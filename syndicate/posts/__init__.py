"""LinkedIn posts: composing, scheduling, queue slots, auto-post rules and the dispatcher."""
