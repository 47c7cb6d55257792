"""Minimal pairs for everyday health: colds, medication doses and courses, burns and cuts, fevers in
children, alcohol with medicines, sleep, hydration and sprains. Each triple holds a first-person
question, correct advice and subtly wrong advice written in the same sentence frame and tone, so the
two answers differ only in the short span that carries the fact. All text was written for this project.
"""

from __future__ import annotations

PAIRS: tuple[tuple[str, str, str], ...] = (
    (
        "I've had a cold for three days; will antibiotics from my GP help me get over it faster?",
        "No, colds are caused by viruses, so antibiotics will not shorten it; rest, drink fluids and use paracetamol for aches while it clears.",
        "Yes, colds are often caused by bacteria, so antibiotics will shorten it; "
        "rest, drink fluids and use paracetamol for aches while it clears.",
    ),
    (
        "My doctor gave me a seven-day course of antibiotics for a chest infection and I feel better after four days; should I stop now?",
        "Finish all seven days as prescribed, because feeling better after four days does not mean the infection has fully cleared.",
        "Stop now that you feel better, because feeling better after four days means the infection has fully cleared.",
    ),
    (
        "How much paracetamol can I take in a day for a bad headache if I'm an average-sized adult?",
        "Take one or two 500 mg tablets every four to six hours, and no more than eight tablets (4 g) in 24 hours.",
        "Take one or two 500 mg tablets every four to six hours, and no more than twelve tablets (6 g) in 24 hours.",
    ),
    (
        "I take ibuprofen for back pain; does it matter whether I take it with food?",
        "Take it with or shortly after food, because on an empty stomach ibuprofen is more likely to irritate the stomach lining.",
        "Take it at least an hour before food, because on a full stomach ibuprofen is more likely to irritate the stomach lining.",
    ),
    (
        "I've been prescribed metronidazole for an infection; can I have a glass of wine with dinner while I'm taking it?",
        "Avoid alcohol during the course and for 48 hours after the last tablet, "
        "because metronidazole with alcohol can cause vomiting, flushing and a racing heart.",
        "Avoid alcohol for two hours either side of each tablet, "
        "because metronidazole with alcohol can cause vomiting, flushing and a racing heart.",
    ),
    (
        "I've been given co-codamol after having a tooth out; can I have a beer this evening?",
        "Avoid beer while you are taking co-codamol, because alcohol adds to the sedating effect of codeine and can slow your breathing.",
        "One beer is okay while you are taking co-codamol, because alcohol does not add to the sedating effect of codeine at these doses.",
    ),
    (
        "My 2-year-old has a temperature of 38.5°C but is still drinking and playing; should I put her in a cool bath to bring it down?",
        "Skip the cool bath and sponging, and instead dress her in light clothing, "
        "offer plenty of fluids, and give children's paracetamol if she seems distressed.",
        "Give her a cool bath and sponge her, then dress her in light clothing, "
        "offer plenty of fluids, and give children's paracetamol if she seems distressed.",
    ),
    (
        "My 8-year-old has a fever and aches and we've run out of children's paracetamol; can I give him half an adult aspirin?",
        "Aspirin is not given to children under 16 because of the risk of Reye's syndrome, "
        "so at eight he should have children's ibuprofen instead.",
        "Aspirin is not given to children under 6 because of the risk of Reye's syndrome, so at eight he can have half an adult aspirin instead.",
    ),
    (
        "My 2-month-old baby feels hot and the thermometer says 38.2°C; can I wait until the morning to see how she is?",
        "A temperature of 38°C or more in a baby under three months needs urgent assessment, so call your doctor or out-of-hours service tonight.",
        "A temperature of 38°C or more in a baby under three months is usually a cold, so call your doctor or out-of-hours service tomorrow.",
    ),
    (
        "What's the most reliable way to take my 18-month-old's temperature at home?",
        "Use a digital thermometer under the armpit, holding it in place for "
        "the time the instructions say, since forehead strips are not reliable.",
        "Use a forehead strip thermometer, holding it in place for the time the instructions say, since armpit readings are not reliable.",
    ),
    (
        "My son is running a fever tonight; should I wrap him up warmly so he can sweat it out?",
        "Dress him in light layers and keep the room comfortably cool, because bundling a "
        "feverish child up stops the body losing heat and can push the temperature higher.",
        "Dress him in warm layers and keep the room comfortably warm, because bundling "
        "a feverish child up helps the body sweat and can bring the temperature down.",
    ),
    (
        "I've just splashed boiling water on my forearm while cooking; what should I do first?",
        "Hold the burn under cool running water for 20 minutes, then cover it loosely with cling film or a clean non-fluffy dressing.",
        "Hold an ice pack on the burn for 5 minutes, then cover it loosely with cling film or a clean non-fluffy dressing.",
    ),
    (
        "My grandmother always put butter on burns; should I do that for a small burn from an oven tray?",
        "Cool it under running water for 20 minutes and then cover it with cling film, leaving off butter, which holds heat in the skin.",
        "Cool it under running water for 20 minutes and then cover it with a thin layer of butter, which draws heat out of the skin.",
    ),
    (
        "A blister has come up on the burn on my hand; should I pop it so it heals faster?",
        "Leave the blister unpopped under a loose dressing, because the fluid "
        "and the skin over it protect the healing skin underneath from infection.",
        "Pop the blister and put on a loose dressing, because the fluid and the skin over it slow the healing of the skin underneath.",
    ),
    (
        "I sliced my finger with a kitchen knife and it's bleeding quite a lot; how do I stop it?",
        "Press firmly on the cut with a clean cloth for at least 10 minutes without "
        "lifting it to check, and raise your hand above the level of your heart.",
        "Press firmly on the cut with a clean cloth for at least 10 minutes, "
        "lifting it every minute to check, and raise your hand above the level of your heart.",
    ),
    (
        "What should I clean my child's grazed knee with before I put a plaster on it?",
        "Rinse it under clean running tap water until the dirt is gone, then pat it dry and cover it with a plaster or dressing.",
        "Pour hydrogen peroxide over it until the fizzing stops, then pat it dry and cover it with a plaster or dressing.",
    ),
    (
        "I've cut my palm on broken glass and the edges gape a little; how soon does it need looking at?",
        "If the edges gape apart or it is still bleeding after 10 minutes of pressure, "
        "get it seen within a few hours, as wounds are best closed early.",
        "If the edges gape apart or it is still bleeding after 10 minutes of pressure, "
        "get it seen within a few days, as wounds are best closed once dry.",
    ),
    (
        "I rolled my ankle playing football an hour ago and it's swollen; should I put heat on it?",
        "For the first 48 hours use an ice pack wrapped in a towel for 20 minutes "
        "every few hours, and keep the ankle raised to reduce the swelling.",
        "For the first 48 hours use a hot water bottle wrapped in a towel for 20 "
        "minutes every few hours, and keep the ankle raised to reduce the swelling.",
    ),
    (
        "My sprained ankle still hurts after three days; should I keep it completely still until the pain has gone?",
        "Keep it moving gently and walk on it as pain allows, because after the first few days movement speeds up the ligament's recovery.",
        "Keep it still and avoid walking on it until pain-free, because after the first few days movement slows down the ligament's recovery.",
    ),
    (
        "How tight should I wrap a compression bandage on my sprained wrist, and can I leave it on?",
        "Firm enough to support it but loose enough that your fingers stay pink and warm, and take it off before you go to sleep.",
        "Firm enough to support it but loose enough that your fingers stay pink and warm, and keep it on while you sleep.",
    ),
    (
        "I twisted my ankle on the stairs; how can I tell if it's broken rather than sprained?",
        "A fracture is more likely than a sprain if you cannot take four steps on it, so get it X-rayed if that is the case.",
        "A fracture is more likely than a sprain if it is badly bruised and swollen, so get it X-rayed if that is the case.",
    ),
    (
        "I've been struggling to fall asleep for a few weeks; is a nightcap a good way to help?",
        "Alcohol makes you drowsy at first, but it fragments sleep in the second half of the night, so a nightcap tends to leave you more tired.",
        "Alcohol makes you drowsy at first, and it deepens sleep in the second half of the night, so a nightcap tends to leave you more rested.",
    ),
    (
        "When I can't sleep I lie in bed for hours trying to drop off; is that the best thing to do?",
        "If you are still awake after about 20 minutes, get up and read in dim light until you feel sleepy, so your bed stays linked with sleep.",
        "If you are still awake after about 20 minutes, stay lying there with your "
        "eyes closed until you feel sleepy, so your bed stays linked with sleep.",
    ),
    (
        "I drink a strong coffee at 4 pm to get through the afternoon; could that be affecting my sleep?",
        "Yes, caffeine has a half-life of around five hours, so a 4 pm coffee can "
        "still be keeping you alert at bedtime; aim to stop by early afternoon.",
        "No, caffeine has a half-life of around one hour, so a 4 pm coffee cannot "
        "still be keeping you alert at bedtime; aim to stop by early evening.",
    ),
    (
        "How many hours of sleep should I be aiming for as a healthy 35-year-old?",
        "Most adults need seven to nine hours a night, and regularly getting less "
        "than that is linked with poorer concentration, mood and long-term health.",
        "Most adults need five to six hours a night, and regularly getting more "
        "than that is linked with poorer concentration, mood and long-term health.",
    ),
    (
        "I've had diarrhoea since last night; what's the best thing to drink to stay hydrated?",
        "Sip water and oral rehydration solution little and often, since the solution "
        "replaces the salts and sugar you lose; avoid fruit juice and fizzy drinks.",
        "Sip water and flat cola little and often, since the cola replaces the salts and sugar you lose; avoid fruit juice and milky drinks.",
    ),
    (
        "How can I tell whether I'm drinking enough water during the day?",
        "Drink regularly through the day and use your urine as a guide: "
        "pale straw-coloured urine means you are drinking enough, while dark yellow means you need more.",
        "Drink regularly through the day and use your urine as a guide: "
        "completely clear urine means you are drinking enough, while pale yellow means you need more.",
    ),
    (
        "Do the cups of tea and coffee I drink at work count towards my daily fluid intake?",
        "Yes, they count towards your daily fluids, since at normal amounts "
        "caffeine's mild diuretic effect is outweighed by the water in the drink.",
        "No, they do not count towards your daily fluids, since at normal amounts caffeine's diuretic effect outweighs the water in the drink.",
    ),
    (
        "Will taking high-dose vitamin C as soon as I feel a cold coming on stop it developing?",
        "Taking vitamin C after symptoms start has not been shown to stop a cold developing, so rest, fluids and simple painkillers are what help.",
        "Taking vitamin C after symptoms start has been shown to stop a cold "
        "developing in most people, so rest, fluids and a daily gram are what help.",
    ),
    (
        "I've been using a decongestant nasal spray for my blocked nose; how long can I keep using it?",
        "Use it for no more than about seven days, because longer use can cause rebound congestion that makes your nose more blocked.",
        "Use it for up to about four weeks, because longer use can cause rebound congestion that makes your nose more blocked.",
    ),
    (
        "I'm taking paracetamol tablets for my cold; can I also have a lemon cold-and-flu drink at night?",
        "Check the packet first, because most cold-and-flu drinks already contain paracetamol, so taking both can push you over the daily maximum.",
        "Check the packet first, because most cold-and-flu drinks do not contain paracetamol, "
        "so taking both will keep you under the daily maximum.",
    ),
    (
        "I forgot my morning blood pressure tablet and only remembered at 3 pm; what should I do?",
        "Take the missed dose now as the next one is hours away, but do not take two together tomorrow to make up for it.",
        "Leave the missed dose since the next one is still hours away, and take two doses together tomorrow to make up for it.",
    ),
    (
        "I take simvastatin every evening; does it matter that I drink grapefruit juice at breakfast?",
        "Grapefruit's effect on simvastatin lasts a day or more, "
        "so a morning glass still raises levels of the evening dose and the risk of muscle pain.",
        "Grapefruit's effect on simvastatin lasts an hour or two, "
        "so a morning glass no longer raises levels of the evening dose or the risk of muscle pain.",
    ),
    (
        "My child's antibiotic says 5 ml twice a day; can I measure it with a teaspoon from the kitchen drawer?",
        "Kitchen teaspoons vary widely in how much they hold, so measure each dose with the oral syringe supplied with the medicine.",
        "Kitchen teaspoons hold a standard 5 ml each, so measure each dose with a teaspoon or the oral syringe supplied with the medicine.",
    ),
    (
        "My pharmacist said to take doxycycline with a full glass of water; is it okay to take it right before bed?",
        "Take it with the water at least 30 minutes before you lie down, "
        "because lying flat too soon means doxycycline can lodge in the gullet and cause ulcers.",
        "Take it with the water right before you lie down, because the full glass "
        "of water means doxycycline cannot lodge in the gullet and cause ulcers.",
    ),
    (
        "I had four pints last night; will a strong coffee and a cold shower make me sober enough to drive this morning?",
        "Coffee and a cold shower do not change how fast your liver clears alcohol, "
        "roughly one unit an hour, so they will not make you sober any sooner.",
        "Coffee and a cold shower roughly double how fast your liver clears alcohol, "
        "normally one unit an hour, so they will make you sober much sooner.",
    ),
    (
        "My nose has started bleeding out of nowhere; should I tilt my head back to stop it?",
        "Sit up and lean forward, pinching the soft part of your nose for 10 to 15 minutes, so the blood drains out rather than down your throat.",
        "Sit up and tilt your head back, pinching the soft part of your nose for 10 to 15 minutes, so the blood stays in rather than dripping out.",
    ),
    (
        "My toddler has a tummy bug and keeps vomiting; how should I give her fluids?",
        "Give small sips of oral rehydration solution every few minutes, because small amounts are easier to keep down than large gulps.",
        "Give large gulps of oral rehydration solution every hour or so, because large amounts are easier to keep down than small sips.",
    ),
    (
        "Is it okay for me to take an over-the-counter sleeping tablet every night for a few months?",
        "Over-the-counter sleep aids are meant for up to two weeks, since your body gets used to them and they can leave you groggy the next day.",
        "Over-the-counter sleep aids are meant for months of nightly use, "
        "since your body does not get used to them and they rarely leave you groggy the next day.",
    ),
    (
        "Ibuprofen isn't touching my knee pain; can I take naproxen as well at the same time?",
        "Do not take them together, because they are both anti-inflammatory painkillers "
        "and combining them adds little relief while raising the risk of stomach bleeding.",
        "You can take them together, because they are different anti-inflammatory painkillers "
        "and combining them adds extra relief without raising the risk of stomach bleeding.",
    ),
)
