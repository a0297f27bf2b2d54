"""Loop forever, catching the grader's timeout (a BaseException) and every other exception, again and again.

The runtime's alarm raises inside the loop; the handler swallows it and the
loop restarts. Busy, so it also burns the CPU it is given.
"""
while True:
    try:
        while True:
            pass
    except BaseException:
        continue
