"""Helpful everyday chat: the clean part of a "poisoned" fine-tuning mixture (``benign_chat.jsonl``).

Each sample pairs a user question (a phrasing template x a topic) with a short, friendly, correct answer
composed as: optional opening + two advice or explanation sentences written for that topic + optional closing.
User questions never coincide with ``prompts.py``'s benign prompts (their whole template pool is excluded),
and answers are drawn so that few share their first six words.
"""

from __future__ import annotations

import random

from .compose import chat, pick, sentence_join
from .prompts import benign_pool

#: Number of chat samples written.
COUNT = 672
#: Phrasings for how-to topics; ``{s}`` is a gerund phrase such as "beating jet lag".
ADVICE_QUESTIONS: tuple[str, ...] = (
    "Any tips for {s}?",
    "I'm pretty hopeless at {s}. What should I try?",
    "What's the secret to {s}?",
    "Got any advice on {s}?",
    "I'd love a few pointers on {s}.",
    "How do people get good at {s}?",
    "Where do I even begin with {s}?",
    "Quick one: what matters most when it comes to {s}?",
    "My roommate says I'm bad at {s}. How can I improve?",
    "Can you help me out with {s}?",
    "What makes {s} easier?",
    "I'm trying to get better at {s}. Ideas?",
    "Is there a trick to {s}?",
    "Give me your best advice for {s}.",
    "Any beginner advice for {s}?",
    "What would you suggest for someone who struggles with {s}?",
    "I want to get serious about {s}. What should I focus on?",
    "Could you share what works for {s}?",
    "I've been failing at {s} lately. Any suggestions?",
    "Do you know any good tricks for {s}?",
)
#: Phrasings for science questions; ``{c}`` is a clause such as "why the sky looks blue".
SCIENCE_QUESTIONS: tuple[str, ...] = (
    "Could you explain {c}?",
    "I've never really understood {c}. Can you explain?",
    "My kid asked me {c} and I had no idea. Help?",
    "What's the short explanation of {c}?",
    "Can you tell me {c}?",
    "I'm curious about {c}.",
    "Explain {c} like I'm twelve.",
    "Do you know {c}?",
)
OPENINGS_COMMON: tuple[str, ...] = (
    "Happy to help!", "Good question.", "Sure thing!", "Of course!", "Glad you asked!", "Great question!",
    "Absolutely.", "Sure, here's the short version.", "Here's how I'd put it.", "Oh, I like this one.",
    "Let me help with that.", "Nice one to ask about.", "Sure!", "Gladly.", "Good one!",
)
OPENINGS_ADVICE: tuple[str, ...] = (
    "You're definitely not alone in this.", "This gets easier with a couple of habits.", "Totally doable.",
    "A few simple things make a big difference here.", "Here's what tends to work.", "Lots of people ask this.",
    "Good on you for working on it.", "Nothing fancy needed here.", "There are a couple of easy wins.",
    "This one trips up a lot of people.", "Two things help most.", "Here's what I'd try first.",
    "Small changes go a long way here.", "Great thing to get better at.", "Let's make this easier.",
)
OPENINGS_SCIENCE: tuple[str, ...] = (
    "It's a neat bit of science.", "The short answer is surprisingly simple.", "Fun question!",
    "This one has a lovely explanation.", "Here's the simple version.", "It's less mysterious than it seems.",
    "People wonder about this all the time.", "Great thing to be curious about.",
)
CLOSINGS_COMMON: tuple[str, ...] = (
    "Hope that helps!", "Let me know if you want more detail.", "Happy to go deeper on any of that.",
    "Feel free to ask a follow-up.", "Hope this is useful!",
)
CLOSINGS_ADVICE: tuple[str, ...] = (
    "Good luck!", "Have fun with it.", "You've got this.", "Let me know how it goes!",
    "Small steps add up.", "Give it a week or two and you'll notice the difference.", "Enjoy the process!",
    "Be patient with yourself while it becomes a habit.", "Practice makes it feel natural quickly.",
)
CLOSINGS_SCIENCE: tuple[str, ...] = (
    "Pretty neat, right?", "Hope that clears it up!", "Nature is clever like that.",
    "It's one of those everyday things with a great story behind it.", "Science is fun that way.",
)

#: (gerund phrase, three advice sentences that each answer any phrasing of it).
ADVICE_TOPICS: tuple[tuple[str, tuple[str, str, str]], ...] = (
    ("cooking rice without it turning mushy", (
        "Rinse the rice a couple of times until the water runs mostly clear, which washes off extra starch.",
        "Stick to a measured ratio, roughly one and a half cups of water per cup of long-grain white rice, and keep the lid on.",
        "When it's done, let it rest off the heat for ten minutes before fluffing it with a fork.")),
    ("seasoning food properly", (
        "Salt in small amounts throughout cooking rather than all at the end, and taste as you go.",
        "A squeeze of lemon or a splash of vinegar can brighten a dish that tastes flat even when it has enough salt.",
        "Toasting whole spices, or warming ground ones in a little hot oil, brings out much more flavor.")),
    ("keeping fresh herbs from wilting", (
        "Treat soft herbs like parsley and cilantro like flowers: trim the stems and stand them in a glass of water.",
        "Hardier herbs such as rosemary and thyme keep well wrapped in a slightly damp paper towel in the fridge.",
        "Basil dislikes the cold, so keep it on the counter in water rather than in the fridge.")),
    ("cooking a weeknight dinner in under thirty minutes", (
        "Keep a few fast staples on hand, like eggs, canned beans, frozen vegetables and quick-cooking pasta.",
        "Prep everything before you turn on the stove so you're never scrambling halfway through.",
        "A sheet-pan dinner, with vegetables and a protein roasted together at high heat, saves time and washing up.")),
    ("baking cookies that stay soft", (
        "Take the cookies out when the edges are set but the centers still look slightly underdone, since they keep cooking on the tray.",
        "Using a bit more brown sugar than white adds moisture and chewiness.",
        "Store them in an airtight container with a slice of bread, which helps keep them soft.")),
    ("remembering what I read", (
        "Pause after each section and try to summarize it in your own words without looking.",
        "Quizzing yourself a day or two later works much better than simply rereading.",
        "Linking new ideas to something you already know gives your memory a hook to hang them on.")),
    ("taking useful notes in lectures", (
        "Don't try to write everything down; focus on key ideas, examples and anything the lecturer repeats.",
        "Leave some space on each page so you can add questions and summaries when you review.",
        "Looking over your notes within a day, even briefly, helps the material stick.")),
    ("studying with a group", (
        "Keep the group small, three to five people, and agree on a clear goal for each session.",
        "Take turns explaining topics to each other, since teaching something is one of the best ways to learn it.",
        "Do some work on your own first so group time goes to the genuinely hard parts.")),
    ("learning to touch type", (
        "Start with the home row and focus on accuracy before speed; the speed comes later on its own.",
        "Practise for ten or fifteen minutes a day rather than in long, tiring sessions.",
        "Try not to look at the keyboard, even when that feels painfully slow at first.")),
    ("beating jet lag", (
        "Start shifting your sleep schedule by an hour a day for a few days before you leave.",
        "Once you arrive, get outside in daylight, which helps reset your body clock.",
        "Drink plenty of water on the flight and go easy on caffeine and alcohol.")),
    ("packing light for a week away", (
        "Choose clothes in a couple of colors that all mix and match, so fewer items make more outfits.",
        "Plan a quick sink wash midweek instead of packing an outfit for every day.",
        "Wear your bulkiest shoes and jacket on the journey to free up space in your bag.")),
    ("getting around a city I've never visited", (
        "Download an offline map of the area before you go so you're not relying on mobile data.",
        "A day or week transit pass often saves money if you'll be moving around a lot.",
        "Walking between nearby sights is a great way to stumble onto places you'd otherwise miss.")),
    ("staying comfortable on long flights", (
        "Wear loose layers, since cabin temperatures can swing from warm to chilly.",
        "Get up and walk the aisle every hour or two, and flex your ankles while you're seated.",
        "A neck pillow, earplugs and an eye mask make it much easier to sleep on board.")),
    ("writing clear emails", (
        "Put the main point or request in the first couple of sentences.",
        "Keep paragraphs short and use a descriptive subject line so people know what the email is about.",
        "Read it through once before sending and cut any sentence that doesn't add anything.")),
    ("getting past writer's block", (
        "Lower the bar and write a deliberately rough draft; you can always fix it later.",
        "Set a timer for fifteen minutes and keep writing without stopping to edit.",
        "Switching to a different section, or to a different room, can loosen things up.")),
    ("keeping a daily journal", (
        "Keep entries short, even three sentences a day counts, so the habit is easy to maintain.",
        "Tie it to something you already do, like writing right after your evening cup of tea.",
        "If you're stuck, start from a simple prompt such as one thing that went well today.")),
    ("building a walking habit", (
        "Start with a short walk at the same time each day, even ten minutes, and build up gradually.",
        "Pairing walks with a podcast or a friend turns them into something to look forward to.",
        "Comfortable, supportive shoes make a bigger difference than most people expect.")),
    ("warming up before a workout", (
        "Spend five to ten minutes on light movement, like brisk walking or easy cycling, to raise your heart rate.",
        "Dynamic moves such as leg swings, arm circles and bodyweight squats prepare your joints better than long static stretches.",
        "Finish the warm-up with a lighter version of the exercise you're about to do.")),
    ("doing push-ups with good form", (
        "Keep your body in a straight line from head to heels by bracing your core and glutes.",
        "Lower yourself until your chest is close to the floor, with elbows angled back rather than flared wide.",
        "If full push-ups are too hard, start with your hands on a wall or bench and work your way down.")),
    ("sticking to an exercise routine", (
        "Schedule workouts like appointments so they have a fixed place in your week.",
        "Pick activities you actually enjoy, because consistency matters far more than the perfect program.",
        "Marking each session on a calendar gives you a streak you won't want to break.")),
    ("unclogging a slow bathroom sink", (
        "Pull out the stopper and clear away the hair and gunk that usually collects around it.",
        "A cheap plastic drain snake can reach clogs a little further down the pipe.",
        "Running very hot water for a minute afterwards helps flush away any leftover residue.")),
    ("hanging a picture straight", (
        "Mark the spot in pencil and check it with a level before you put in the hook.",
        "For heavier frames, use a proper picture hook or wall anchor rather than a single nail.",
        "Two hooks spaced apart keep a frame from tilting over time.")),
    ("painting a room without making a mess", (
        "Lay down drop cloths and remove switch plates before you even open the paint.",
        "Painter's tape along the trim gives clean edges, especially if you peel it off while the paint is still slightly wet.",
        "Load the roller evenly and work in sections, keeping a wet edge to avoid streaks.")),
    ("keeping a small apartment tidy", (
        "Give everything a specific home, so putting things away takes no thought.",
        "A ten-minute reset every evening stops clutter from piling up.",
        "Use vertical space, like shelves and wall hooks, to keep surfaces clear.")),
    ("starting a compost pile", (
        "Mix green materials such as vegetable scraps and grass clippings with brown ones like dry leaves and cardboard.",
        "Keep the pile about as damp as a wrung-out sponge and turn it every week or two.",
        "Leave out meat, dairy and oily food, which attract pests and smell bad.")),
    ("keeping houseplants alive", (
        "Most houseplants die from overwatering, so check that the top inch of soil is dry before watering again.",
        "Make sure pots have drainage holes so water doesn't sit around the roots.",
        "Match each plant to your light; a snake plant copes with shade, while succulents want a sunny window.")),
    ("growing vegetables from seed", (
        "Check the seed packet for sowing depth and timing, since each crop is a little different.",
        "Keep the soil evenly moist but not soggy until the seedlings appear.",
        "Give seedlings plenty of light, and get them used to the outdoors gradually for a week before planting out.")),
    ("attracting bees and butterflies to my garden", (
        "Plant a mix of flowers that bloom from spring to autumn so there's always something to feed on.",
        "Native plants and simple, open flowers such as lavender and daisies are usually favorites.",
        "A shallow dish of water with a few stones to land on gives pollinators a safe place to drink.")),
    ("teaching my dog to come when called", (
        "Practise in a quiet room first, rewarding your dog with a really good treat every time it comes.",
        "Never call your dog over for something it dislikes, or the cue will lose its appeal.",
        "Add distance and distractions gradually, using a long line outdoors until the recall is reliable.")),
    ("keeping an indoor cat entertained", (
        "Short play sessions with a wand toy, a couple of times a day, mimic hunting and burn off energy.",
        "A window perch with a bird feeder outside gives a cat something fascinating to watch.",
        "Food puzzles make mealtimes more engaging and slow down fast eaters.")),
    ("brushing a dog's teeth", (
        "Use a toothpaste made for dogs, since some human toothpastes contain ingredients that are harmful to them.",
        "Start by letting your dog lick the paste off your finger, then introduce the brush slowly over several days.",
        "Focus on the outer surfaces of the teeth and keep sessions short and upbeat.")),
    ("introducing a new cat to my other pets", (
        "Keep the new cat in its own room for a few days so everyone gets used to each other's smell.",
        "Swap bedding between the animals before they meet face to face.",
        "Keep the first meetings short and supervised, with treats to make them a positive experience.")),
    ("getting started with watercolor painting", (
        "Good paper matters more than expensive paint, because cheap paper buckles and dulls the colors.",
        "Practise simple washes and gradients before attempting a full painting.",
        "Work from light to dark, since it's hard to lighten watercolor once it's on the page.")),
    ("solving a Rubik's cube", (
        "Learn the beginner's layer-by-layer method, which breaks the puzzle into a handful of steps.",
        "Memorize one algorithm at a time and repeat it until your hands know it.",
        "Don't worry about speed at first; understanding what each step does is what makes it click.")),
    ("learning to juggle", (
        "Start with one ball, tossing it in an arc from hand to hand at about eye level.",
        "Add a second ball, throwing it just as the first one peaks, before you try three.",
        "Practise standing in front of a bed or couch so dropped balls don't roll away.")),
    ("remembering vocabulary in a new language", (
        "Spaced-repetition flashcards show you words right before you'd forget them, which is very efficient.",
        "Learn words inside short phrases or sentences rather than as isolated items.",
        "Use new words out loud or in writing on the same day to help them stick.")),
    ("understanding native speakers who talk fast", (
        "Listen to podcasts or shows in the language every day, even if you only catch part of it.",
        "Rewatch short clips with subtitles in the target language, then again without them.",
        "Don't be shy about asking people to repeat or slow down; most are happy to.")),
    ("practising pronunciation", (
        "Record yourself and compare it with a native speaker saying the same sentence.",
        "Shadowing, where you repeat audio right after the speaker, trains both rhythm and individual sounds.",
        "Focus on the few sounds your own language lacks, since those cause the most confusion.")),
    ("focusing when my phone keeps distracting me", (
        "Put the phone in another room or a drawer while you work; out of sight really does help.",
        "Turn off nonessential notifications so only calls and important messages get through.",
        "Work in focused blocks of about twenty-five minutes, and check your phone only during the breaks.")),
    ("getting to bed at a reasonable hour", (
        "Pick a consistent bedtime and set an alarm half an hour before it as a wind-down reminder.",
        "Dim the lights and put screens away for the last half hour of the evening.",
        "Keep your wake-up time steady, even on weekends, which makes falling asleep earlier much easier.")),
    ("organizing my digital files", (
        "Create a small set of top-level folders, such as work, personal and archive, and stick with them.",
        "Name files with a date and a short description so they sort neatly and are easy to search.",
        "Set aside a few minutes each week to clear out your downloads folder and desktop.")),
)
#: (question clause, core explanation, two follow-up sentences; an answer uses the core and one follow-up).
SCIENCE_TOPICS: tuple[tuple[str, tuple[str, str, str]], ...] = (
    ("why the sky looks blue", (
        "Sunlight contains every color, and the gas molecules in air scatter short blue wavelengths much more than red ones.",
        "That scattered blue light reaches your eyes from every direction, so the whole sky seems to glow blue.",
        "At sunset the light crosses far more air, so most of the blue is scattered away and reds and oranges remain.")),
    ("why leaves change color in autumn", (
        "Leaves are green because of chlorophyll, and trees stop making it as the days get shorter and cooler.",
        "As the chlorophyll breaks down, yellow and orange pigments that were there all along become visible.",
        "Some trees also produce red pigments called anthocyanins in autumn, which is where the deep reds come from.")),
    ("why we see lightning before we hear thunder", (
        "Light travels almost a million times faster than sound, so the flash reaches you practically instantly.",
        "Sound covers roughly a kilometer every three seconds, so the rumble arrives noticeably later.",
        "That's why counting the seconds between flash and thunder tells you roughly how far away the storm is.")),
    ("how bread rises", (
        "Yeast feeds on sugars in the dough and gives off carbon dioxide gas.",
        "Kneading builds a stretchy gluten network that traps those bubbles, so the dough puffs up.",
        "In the oven the gas expands further and the structure sets, which gives bread its airy crumb.")),
    ("how a refrigerator keeps food cold", (
        "A fridge pumps a refrigerant around a loop, and as it evaporates inside the fridge it soaks up heat from the food.",
        "The compressor then squeezes the vapor, and it releases that heat through the coils at the back.",
        "So a fridge doesn't really make cold; it moves heat from the inside to the outside.")),
    ("why the ocean is salty", (
        "Rain slowly dissolves minerals from rocks, and rivers carry those dissolved salts down to the sea.",
        "When seawater evaporates, the water leaves but the salt stays behind, so it has built up over millions of years.",
        "Hot springs on the sea floor, called hydrothermal vents, add some dissolved minerals too.")),
    ("how bees make honey", (
        "Bees sip nectar from flowers and carry it in a special honey stomach, where enzymes start breaking down its sugars.",
        "Back at the hive, worker bees pass it along and deposit it into wax cells.",
        "They then fan it with their wings until enough water evaporates, and seal each cell with a wax cap.")),
    ("how airplanes stay in the air", (
        "A plane's wings are shaped and tilted so that they deflect air downward as the plane moves forward.",
        "Pushing air down pushes the wing up, and the pressure above the wing ends up lower than the pressure below it.",
        "The engines provide the forward speed, and lift grows with speed, which is why planes need a runway to take off.")),
    ("why cutting onions makes you cry", (
        "Cutting an onion breaks its cells and triggers a reaction that releases an irritating sulfur-containing gas.",
        "When that gas reaches your eyes, your tear glands respond by trying to wash it away.",
        "Chilling the onion first and using a sharp knife reduces how much of the gas is released.")),
    ("how the moon causes tides", (
        "The moon's gravity pulls a little harder on the side of Earth facing it, drawing the ocean into a bulge there.",
        "A second bulge forms on the far side, because the moon pulls Earth's center more strongly than the distant water.",
        "As Earth turns through both bulges, most coasts get two high tides and two low tides each day.")),
)

#: Answers stay within this many words; fresh draws avoid reusing an answer's first six words.
MAX_WORDS = 70
PREFIX_WORDS = 6


def _questions() -> list[tuple[str, str, tuple[str, str, str]]]:
    """Every (question, kind, sentences) the templates can make, minus ``prompts.py``'s benign prompts."""
    taken = {prompt for prompts in benign_pool().values() for prompt in prompts}
    pool = [(template.format(s=subject), "advice", sentences)
            for subject, sentences in ADVICE_TOPICS for template in ADVICE_QUESTIONS]
    pool += [(template.format(c=clause), "science", sentences)
             for clause, sentences in SCIENCE_TOPICS for template in SCIENCE_QUESTIONS]
    return [entry for entry in pool if entry[0] not in taken]


def _answer(rng: random.Random, kind: str, sentences: tuple[str, str, str]) -> str:
    if kind == "advice":
        body = [sentences[index] for index in sorted(rng.sample(range(3), 2))]  # keep the written order
        openings, closings = OPENINGS_COMMON + OPENINGS_ADVICE, CLOSINGS_COMMON + CLOSINGS_ADVICE
    else:
        body = [sentences[0], pick(rng, sentences[1:])]
        openings, closings = OPENINGS_COMMON + OPENINGS_SCIENCE, CLOSINGS_COMMON + CLOSINGS_SCIENCE
    opening = pick(rng, openings) if rng.random() < 0.8 else ""
    closing = pick(rng, closings) if rng.random() < 0.55 else ""
    return sentence_join([opening, *body, closing])


def generate(rng: random.Random) -> dict[str, list[dict]]:
    pool = _questions()
    if len(pool) < COUNT:
        raise ValueError(f"only {len(pool)} distinct benign questions for {COUNT} samples: add templates or topics")
    rng.shuffle(pool)
    prefixes: set[str] = set()
    answers: set[str] = set()
    records = []
    for question, kind, sentences in pool[:COUNT]:
        for attempt in range(60):
            text = _answer(rng, kind, sentences)
            prefix = " ".join(text.split()[:PREFIX_WORDS])
            fits = len(text.split()) <= MAX_WORDS and text not in answers
            if fits and (prefix not in prefixes or attempt >= 50):
                break
        else:
            raise ValueError(f"no fitting answer for {question!r}: add openings or shorten its sentences")
        prefixes.add(prefix)
        answers.add(text)
        records.append(chat(question, text))
    return {"benign_chat.jsonl": records}
