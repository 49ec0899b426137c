"""The three example tasks, ``rnnkit classify|tag|forecast`` and ``rnnkit predict``, in one
package until their training moves onto the one trainer (then one package each)."""
