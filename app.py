"""Neural style transfer studio: a minimal Gatys page (the full app comes with issue 5)."""

import gradio as gr

from nst.config import GatysConfig
from nst.gatys import run_gatys


def stylize(content, style, steps):
    if content is None or style is None:
        raise gr.Error("Upload a content image and a style image.")
    try:
        for record in run_gatys(GatysConfig(steps=int(steps)), content, style, image_every=10):
            if record.image is not None:
                yield record.image
    except (ValueError, RuntimeError) as error:
        raise gr.Error(str(error)) from error


with gr.Blocks(title="Neural style transfer studio") as demo:
    with gr.Row():
        content = gr.Image(type="pil", label="Content")
        style = gr.Image(type="pil", label="Style")
        output = gr.Image(type="pil", label="Result", format="png")
    steps = gr.Slider(1, 500, value=100, step=1, label="Steps")
    gr.Button("Run").click(stylize, [content, style, steps], output, api_name="gatys")

if __name__ == "__main__":
    demo.queue().launch()
